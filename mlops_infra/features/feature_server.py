"""The Feast feature server: Deployment, Service, PodDisruptionBudget and HPA, with the pod-security defaults.

The pod reads `feature_store.yaml` from a ConfigMap and secrets (Redis token, registry password) as env vars
from a Kubernetes Secret; Feast expands `${VAR}` references when it loads the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import pod_security
from ..blocks.naming import child, child_options, renamed_type
from ..blocks.observability import MonitoringRefs, ScrapeEndpoint, service_monitor
from .config import FeatureServerConfig

PORT = 6566  # `feast serve` default port (feast/cli/serve.py)
METRICS_PORT = 8000
"""`feast serve --metrics` serves Prometheus metrics on this port (Feast 0.66.0 feature_server.py `start_server` calls
metrics.py `start_metrics_server(store, ...)`, whose `port` defaults to 8000; the CLI has no option to change it).
Any path answers (prometheus_client `make_wsgi_app`); the ServiceMonitor scrapes /metrics."""
METRICS_PORT_NAME = "metrics"
SERVICE_PORT = PORT
"""The Service port equals the pod's: a NetworkPolicy names one port, and the VPC CNI's policy agent admits traffic to a
ClusterIP only when the rule's port matches the Service's target (amazon-network-policy-controller
pkg/k8s/service_utils.go), so egress rules on the Service port and ingress rules on the pod port agree."""
CLIENT_LABEL = "mlops.io/feature-store-client"
"""A namespace labelled `mlops.io/feature-store-client: "true"` is admitted to the server's port as a granted one:
how a namespace made outside the platform (TeamWorkspace in a consumer stack) is admitted. Labelling a Namespace
needs `update` on namespaces, a cluster-admin right."""
CONFIG_DIR = "/feast"
FEATURE_STORE_YAML = f"{CONFIG_DIR}/feature_store.yaml"


@dataclass(frozen=True)
class FeastPod:
    """What every Feast pod shares: identity, config file and secret env vars."""

    namespace: pulumi.Input[str]
    service_account: pulumi.Input[str]
    config_map: pulumi.Input[str]
    secret: pulumi.Input[str] | None = None
    """Secret whose keys become env vars (Redis token, registry password). Default: none."""

    def volumes(self) -> list[k8s.core.v1.VolumeArgsDict]:
        return [{"name": "config", "config_map": {"name": self.config_map}},
                {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}}]

    def mounts(self) -> list[k8s.core.v1.VolumeMountArgsDict]:
        # Read-only root filesystem: Feast's scratch files and HOME go to /tmp.
        return [{"name": "config", "mount_path": CONFIG_DIR, "read_only": True},
                {"name": "tmp", "mount_path": "/tmp"}]

    def env(self) -> list[k8s.core.v1.EnvVarArgsDict]:
        # No FEAST_USAGE: Feast 0.66.0 sends no telemetry and reads no such variable (usage tracking was removed in
        # 0.38.0, feast-dev/feast#4214; tests/integration/test_feast.py checks the installed package).
        return [{"name": "HOME", "value": "/tmp"}]

    def env_from(self) -> list[k8s.core.v1.EnvFromSourceArgsDict]:
        return [{"secret_ref": {"name": self.secret}}] if self.secret is not None else []

    def spec(self, container: k8s.core.v1.ContainerArgsDict) -> k8s.core.v1.PodSpecArgsDict:
        return {
            "service_account_name": self.service_account,
            "automount_service_account_token": False,
            "security_context": pod_security.pod_security_context(),
            "containers": [container],
            "volumes": self.volumes(),
        }


@dataclass(frozen=True)
class FeatureServerArgs:
    config: FeatureServerConfig
    pod: FeastPod
    labels: dict[str, str]
    checksum: pulumi.Input[str] = ""
    """Hash of the config, as a pod annotation, so that a changed `feature_store.yaml` rolls the pods. Default: none."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """What must be ready before the pods start: the registry bootstrap Job and the identity. Default: none."""
    client_namespaces: Sequence[pulumi.Input[str]] = ()
    """Namespaces whose pods may call the server (its ingress NetworkPolicy admits only these and Prometheus).
    Default: none."""
    prometheus_namespace: pulumi.Input[str] | None = None
    """Namespace of the Prometheus admitted to the server's port. Default: none."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core: a ServiceMonitor scrapes the server's metrics port, and its Prometheus is admitted to it.
    Default: none (no ServiceMonitor)."""


class FeatureServer(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    url: pulumi.Output[str]

    # long: the feature server's Deployment, Service, PDB and HPA: one pod spec read top to bottom against the
    #   chart-less upstream manifest
    def __init__(self, name: str, args: FeatureServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:features:FeatureServer", name, None,
                         renamed_type(opts, "mlops:feature_server:FeatureServer"))
        cfg, pod = args.config, args.pod
        selector = {"app.kubernetes.io/name": "feast-feature-server", "app.kubernetes.io/instance": name}
        labels = {**args.labels, **selector}
        meta: k8s.meta.v1.ObjectMetaArgsDict = {"name": name, "namespace": pod.namespace, "labels": labels}
        probe_get: k8s.core.v1.HTTPGetActionArgsDict = {"path": "/health", "port": "http"}
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "feature-server",
            "image": cfg.image,
            "command": ["feast", "-f", FEATURE_STORE_YAML, "serve", "-h", "0.0.0.0", "-p", str(PORT),
                        "--no-access-log", "--metrics"],
            "ports": [{"name": "http", "container_port": PORT, "protocol": "TCP"},
                      {"name": METRICS_PORT_NAME, "container_port": METRICS_PORT, "protocol": "TCP"}],
            "env": pod.env(),
            "env_from": pod.env_from(),
            "volume_mounts": pod.mounts(),
            "resources": pod_security.resources(cfg.cpu, cfg.memory),
            "security_context": pod_security.container_security_context(),
            "readiness_probe": {"http_get": probe_get, "initial_delay_seconds": 10, "period_seconds": 10,
                                "failure_threshold": 3},
            "liveness_probe": {"http_get": probe_get, "initial_delay_seconds": 30, "period_seconds": 20,
                               "failure_threshold": 3},
        }
        spec: k8s.apps.v1.DeploymentSpecArgsDict = {
            "selector": {"match_labels": selector},
            "template": {
                "metadata": {"labels": labels, "annotations": {"mlops/config-checksum": args.checksum}},
                "spec": {
                    **pod.spec(container),
                    "topology_spread_constraints": [{
                        "max_skew": 1, "topology_key": "topology.kubernetes.io/zone",
                        "when_unsatisfiable": "ScheduleAnyway", "label_selector": {"match_labels": selector}}],
                },
            },
            "strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}},
        }
        # The HPA owns the replica count; ignoring `spec.replicas` keeps `pulumi up` from resetting it.
        deployment = k8s.apps.v1.Deployment(
            child(name, "deployment"), metadata=meta, spec={**spec, "replicas": cfg.min_replicas},
            opts=child_options(self, ignore_changes=["spec.replicas"], depends_on=list(args.depends_on)))
        service = k8s.core.v1.Service(
            child(name, "service"), metadata=meta,
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": SERVICE_PORT, "target_port": "http", "protocol": "TCP"},
                            {"name": METRICS_PORT_NAME, "port": METRICS_PORT, "target_port": METRICS_PORT_NAME,
                             "protocol": "TCP"}]},
            opts=child_options(self))
        k8s.policy.v1.PodDisruptionBudget(
            child(name, "pdb"), metadata=meta,
            spec={"selector": {"match_labels": selector}, "max_unavailable": 1}, opts=child_options(self))
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            child(name, "hpa"), metadata=meta,
            spec={
                "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": name},
                "min_replicas": cfg.min_replicas,
                "max_replicas": cfg.max_replicas,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "average_utilization": cfg.target_cpu_percent}}}],
            },
            opts=child_options(self, depends_on=[deployment]))
        self._ingress_policy(name, args, meta, selector)
        if args.monitoring is not None:
            # Prometheus names the scrape job after the Service: the rules select job=<service name>.
            service_monitor(self, name, args.monitoring, object_name=name, namespace=pod.namespace,
                            match_labels=selector, endpoints=[ScrapeEndpoint(METRICS_PORT_NAME)],
                            depends_on=[service])
        self.service_name = service.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))
        self.url = pulumi.Output.format("http://{0}.{1}.svc.cluster.local:{2}", self.service_name, pod.namespace,
                                        SERVICE_PORT)
        self.register_outputs({"url": self.url})

    def _ingress_policy(self, name: str, args: FeatureServerArgs, meta: k8s.meta.v1.ObjectMetaArgsDict,
                        selector: dict[str, str]) -> None:
        """Only the granted namespaces and Prometheus reach the server, on the pod's port (the VPC CNI's policy agent
        judges the pod port, not the Service's). Feast 0.66.0's `/push`, `/write-to-online-store` and
        `/materialize` cannot be switched off (feast/cli/serve.py has no such option); they are guarded only by
        Feast's permissions under `auth: oidc|kubernetes` (feature_server.py `assert_permissions`, a no-op under
        `no_auth`). So whoever reaches the port may write: this policy is what limits who that is. Kubelet probes
        come from the node's address, which the policy agent always admits (aws-network-policy-agent#65)."""
        prometheus = args.prometheus_namespace or (args.monitoring.prometheus_namespace if args.monitoring else None)
        sources = [*args.client_namespaces, *([prometheus] if prometheus else [])]
        peers: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = [
            {"namespace_selector": {"match_labels": {CLIENT_LABEL: "true"}}}]
        if sources:
            peers.insert(0, {"namespace_selector": {"match_expressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sources}]}})
        rules: list[k8s.networking.v1.NetworkPolicyIngressRuleArgsDict] = [
            {"from_": peers, "ports": [{"protocol": "TCP", "port": PORT}]}]
        if prometheus:  # the metrics port: Prometheus only
            rules.append({"from_": [{"namespace_selector": {"match_expressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [prometheus]}]}}],
                "ports": [{"protocol": "TCP", "port": METRICS_PORT}]})
        k8s.networking.v1.NetworkPolicy(
            child(name, "ingress-policy"), metadata={**meta, "name": f"{meta['name']}-ingress"},
            spec={"pod_selector": {"match_labels": selector}, "policy_types": ["Ingress"], "ingress": rules},
            opts=child_options(self))
