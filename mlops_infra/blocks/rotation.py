"""Keeping a workload on a rotated RDS master password: one answer for every engine that reads it once.

RDS rotates a managed master password in Secrets Manager every 7 days, in place (single-user rotation: the old
password stops working at once). MLflow re-reads it per connection (registry/mlflow_server.py: a libpq password
file refreshed by a sidecar). The engines that take it from a Kubernetes Secret at container start (LakeFS and the
KFP API server, both Go; Airflow, Prefect and Metaflow's service, whose URL or env carries the password) cannot,
so they get:

- the ExternalSecret that renders their Secret refreshed every REFRESH_INTERVAL (not 1h), and
- `restart_on_rotation`: a small Deployment in their namespace (rotation_restarter.py, standard library only) that
  rolls every Deployment and StatefulSet reading one of the watched Secrets once its data changes.

New connections fail from the rotation until the new pods are ready: at most REFRESH_INTERVAL plus POLL_SECONDS
plus the rollout (established connections keep working). Its rights are the namespace's: get the watched Secrets
(by name), list and patch Deployments and StatefulSets; egress only to the API server's Service address.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from . import pod_security
from .naming import child, child_options

REFRESH_INTERVAL = "5m"
"""External Secrets `refreshInterval` of a Secret that carries an RDS-managed password (GetSecretValue every 5
minutes: about 8,640 calls a month per Secret, well under a cent at $0.05 per 10,000)."""
POLL_SECONDS = 60
IMAGE = "docker.io/library/python:3.12-slim"
"""Any Python >= 3.10 runs the restarter; this one is already pinned by the platform (Metaflow steps, monitor job)."""
NAME = "rotation-restarter"
SOURCE = Path(__file__).with_name("rotation_restarter.py")
HEARTBEAT = "/tmp/heartbeat"
PROBE_TIMEOUT_SECONDS = 10
"""The liveness probe's timeout (the default, 1 s, is tight for any exec under a 20m CPU limit)."""
API_SERVICE_PORT = 443
"""The `kubernetes` Service's port, which the VPC CNI's policy agent judges (before DNAT; security/exfiltration_guards.py)."""
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "mlops-platform"}


# long: the restarter's ServiceAccount, Role, binding, code, egress and Deployment in one reviewed spec
def restart_on_rotation(owner: pulumi.Resource, name: str, *, namespace: pulumi.Input[str], secrets: Sequence[str],
                        api_ips: pulumi.Input[Sequence[str]], provider: pulumi.ProviderResource | None,
                        depends_on: Sequence[pulumi.Resource] = (),
                        workloads: Sequence[str] = ()) -> k8s.apps.v1.Deployment:
    """The restarter of `namespace` watching `secrets`; children `<name>-rotation-*` of `owner`. `api_ips`: the
    `kubernetes` Service's address(es) as /32s (`exfiltration_guards.api_service_ips`), its only egress.
    `workloads`: the names of the Deployments/StatefulSets it may patch (Role `resourceNames`; `list` stays
    namespace-wide, RBAC cannot scope it by name); empty: every one of the namespace."""
    if not secrets:
        raise ValueError(f"{name}: restart_on_rotation needs at least one Secret to watch")
    base = child(name, "rotation")
    opts = child_options(owner, provider=provider)
    meta: k8s.meta.v1.ObjectMetaArgsDict = {"name": NAME, "namespace": namespace, "labels": LABELS}
    sa = k8s.core.v1.ServiceAccount(child(base, "sa"), metadata=meta, automount_service_account_token=False,
                                    opts=opts)
    patch: k8s.rbac.v1.PolicyRuleArgsDict = {"api_groups": ["apps"], "resources": ["deployments", "statefulsets"],
                                             "verbs": ["patch"]}
    if workloads:
        patch["resource_names"] = sorted(set(workloads))
    role = k8s.rbac.v1.Role(child(base, "role"), metadata=meta, opts=opts, rules=[
        {"api_groups": [""], "resources": ["secrets"], "verbs": ["get"], "resource_names": sorted(set(secrets))},
        {"api_groups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["list"]}, patch])
    binding = k8s.rbac.v1.RoleBinding(child(base, "binding"), metadata=meta, opts=opts, role_ref={
        "api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
        subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}])
    code = k8s.core.v1.ConfigMap(child(base, "code"), metadata={**meta, "name": f"{NAME}-code"}, opts=opts,
                                 data={SOURCE.name: SOURCE.read_text()})
    api = pulumi.Output.from_input(api_ips).apply(lambda ips: [{"ip_block": {"cidr": ip}} for ip in ips])
    rule: k8s.networking.v1.NetworkPolicyEgressRuleArgsDict = {
        "to": api, "ports": [{"protocol": "TCP", "port": API_SERVICE_PORT}]}  # type: ignore[typeddict-item]
    egress: k8s.networking.v1.NetworkPolicySpecArgsDict = {
        "pod_selector": {"match_labels": LABELS}, "policy_types": ["Egress"], "egress": [rule]}
    k8s.networking.v1.NetworkPolicy(child(base, "egress"), metadata={**meta, "name": f"{NAME}-egress"}, opts=opts,
                                    spec=egress)
    env: list[k8s.core.v1.EnvVarArgsDict] = [
        {"name": "WATCH_NAMESPACE", "value_from": {"field_ref": {"field_path": "metadata.namespace"}}},
        {"name": "WATCH_SECRETS", "value": ",".join(sorted(set(secrets)))},
        {"name": "POLL_SECONDS", "value": str(POLL_SECONDS)}, {"name": "HEARTBEAT_FILE", "value": HEARTBEAT},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}]
    if workloads:
        env.append({"name": "WATCH_WORKLOADS", "value": ",".join(sorted(set(workloads)))})
    # A shell and two coreutils, not a Python start (0.6-1 s under the 20m CPU limit, past a 1 s probe timeout).
    # A missing heartbeat makes `stat` fail, the arithmetic empty and `test` false.
    stale = f'test $(( $(date +%s) - $(stat -c %Y "$HEARTBEAT_FILE") )) -le {POLL_SECONDS * 5}'
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "restarter", "image": IMAGE, "command": ["python", f"/code/{SOURCE.name}"], "env": env,
        "liveness_probe": {"exec_": {"command": ["sh", "-c", stale]}, "initial_delay_seconds": POLL_SECONDS * 2,
                           "period_seconds": POLL_SECONDS, "timeout_seconds": PROBE_TIMEOUT_SECONDS},
        "resources": pod_security.resources("20m", "64Mi"),
        "security_context": pod_security.container_security_context(),
        "volume_mounts": [{"name": "code", "mount_path": "/code", "read_only": True},
                          {"name": "tmp", "mount_path": "/tmp"}]}
    pod: k8s.core.v1.PodSpecArgsDict = {
        "service_account_name": NAME, "automount_service_account_token": True,  # it calls the API
        "security_context": pod_security.pod_security_context(), "containers": [container],
        "volumes": [{"name": "code", "config_map": {"name": f"{NAME}-code"}},
                    {"name": "tmp", "empty_dir": {"size_limit": "16Mi"}}]}
    template: k8s.core.v1.PodTemplateSpecArgsDict = {"metadata": {"labels": LABELS}, "spec": pod}
    spec: k8s.apps.v1.DeploymentSpecArgsDict = {"replicas": 1, "selector": {"match_labels": LABELS},
                                                "template": template}
    return k8s.apps.v1.Deployment(child(base, "deployment"), metadata=meta, spec=spec,
                                  opts=child_options(owner, provider=provider,
                                                     depends_on=[sa, role, binding, code, *depends_on]))
