"""Workload-side invariants: what one Kubernetes object names must exist in the stack (a Service for a
ServiceMonitor, a ServiceAccount for an IRSA trust, a Secret for a reference) and PDBs that can never let go.
Objects made outside the stack are allowlisted in the policy config."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import UNKNOWN, NotApplicable, Resource, Stack, json_doc, stack_policy, statements
from .invariants_cluster import (
    AUTOSCALER_CHARTS,
    ENFORCING_CNI_CHARTS,
    PACK,
    _metric_sources,
    storage_class_uses,
)
from .invariants_index import (
    CLUSTER_CONFIG,
    HPA,
    INGRESS,
    NETWORK_POLICY,
    NODE_GROUP,
    PDB,
    SERVICE,
    SERVICE_ACCOUNT,
    SERVICE_MONITOR,
    WORKLOADS,
    Index,
    index,
    labels_match,
    meta,
    release_namespace,
    release_values,
    stack_level,
)
from .pod_model import pods
from .rendering import kubelet_services

ALLOWLIST = {"type": "array", "items": {"type": "string"}, "default": [],
             "description": "namespace/name globs of objects made outside the stack."}


def allowed(config: Mapping[str, Any], key: str, ns: str, name: str) -> bool:
    return any(fnmatch.fnmatchcase(f"{ns}/{name}", pattern) for pattern in config.get(key) or [])


# --- ServiceMonitors ---------------------------------------------------------------------------------------------

def _dcgm_service(release: Resource, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """NVIDIA/dcgm-exporter deployment/templates/service.yaml (4.5-4.8): labels from `dcgm-exporter.labels`
    (_helpers.tpl: name, instance, component = name), port "metrics"."""
    name = str(values.get("nameOverride") or "dcgm-exporter")[:63].rstrip("-")
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": name,
            "app.kubernetes.io/instance": release.get("name")}, ["metrics"]


def _pushgateway_service(release: Resource, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """prometheus-community charts/prometheus-pushgateway 3.8.0 templates/service.yaml: `defaultLabels` (name,
    instance) plus serviceLabels; port `service.portName` (default "http")."""
    name = str(values.get("nameOverride") or "prometheus-pushgateway")[:63].rstrip("-")
    service: Mapping[str, Any] = values["service"] if isinstance(values.get("service"), Mapping) else {}
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release.get("name"),
              **(values.get("serviceLabels") or {})}
    return labels, [str(service.get("portName") or "http")]


CHART_SERVICES = {"dcgm-exporter": _dcgm_service, "prometheus-pushgateway": _pushgateway_service}


def services(idx: Index) -> Iterator[tuple[str, str, Mapping[str, Any], list[str]]]:
    """(namespace, what, labels, port names) of every Service in the stack and every one a known chart renders.
    A release without an explicit `name` gets a generated one: its instance label is unknown (matches anything)."""
    for svc in idx.of_type(SERVICE):
        ns, name = meta(svc)
        names_ = [str(p["name"]) for p in svc.get("spec", "ports") or [] if isinstance(p, Mapping) and p.get("name")]
        yield ns or "default", f"Service {name}", svc.get("metadata", "labels") or {}, names_
    # Services the cluster itself keeps: the API server's `kubernetes` Service (labels component=apiserver,
    # provider=kubernetes, port https) and the kubelet Service prometheus-operator maintains when a rendered
    # kube-prometheus-stack enables it (pkg/prometheus operator syncNodeEndpoints: k8s-app and
    # app.kubernetes.io/name kubelet; ports https-metrics 10250, http-metrics 10255, cadvisor 4194).
    yield "default", "Service kubernetes (API server)", {"component": "apiserver", "provider": "kubernetes"}, ["https"]
    for svc_ns, svc_name in kubelet_services(idx.stack.resources):
        yield svc_ns, f"Service {svc_name} (prometheus-operator)", {"k8s-app": "kubelet",
                                                                   "app.kubernetes.io/name": "kubelet"}, [
            "https-metrics", "http-metrics", "cadvisor"]
    for chart, render in CHART_SERVICES.items():
        for release in idx.releases(chart):
            if release.urn in idx.rendered_releases:
                continue  # its real Services are in the stack already (rendered from the chart store)
            rendered, ports = render(release, release_values(release))
            labels: dict[str, Any] = {k: (UNKNOWN if v is None else v) for k, v in rendered.items()}
            yield release_namespace(release), f"release {release.name}", labels, ports


# Charts a ServiceMonitor depends on only for their CRDs.
CRD_ONLY_TARGETS = ("kube-prometheus-stack", "prometheus-operator-crds")


def _targets_unmodelled_chart(idx: Index, monitor: Resource) -> bool:
    """The monitor waits for a release whose Services are neither rendered (chart store) nor modelled here."""
    for urn in idx.deps_of(monitor):
        dep = idx.get(urn)
        if dep is not None and dep.type == "kubernetes:helm.sh/v3:Release" and urn not in idx.rendered_releases:
            chart = str(dep.get("chart") or "").rstrip("/").rsplit("/", 1)[-1]
            if chart not in CHART_SERVICES and chart not in CRD_ONLY_TARGETS:
                return True
    return False


@stack_policy(
    "mlops-inv-servicemonitor-target",
    description="Every ServiceMonitor's selector and endpoint port match a Service in the stack (a Service object "
                "or one a known chart renders), in a namespace it watches; otherwise Prometheus scrapes nothing. A "
                "monitor that depends on a release of a chart not modelled here is not judged.",
    severity="medium", pack=PACK,
    controls=("SOC2 CC7.2",),
    remediation="Select the labels the Service really carries (read the chart's service template) and name a port "
                "the Service exposes; set namespaceSelector.matchNames to the Service's namespace.",
)
def servicemonitor_target(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    known = list(services(idx))
    unseen = pods(stack).why
    modelled = {f"chart:{c}" for c in (*CHART_SERVICES, *CRD_ONLY_TARGETS)}
    for monitor in idx.of_type(SERVICE_MONITOR):
        own_ns, _ = meta(monitor)
        selector = monitor.get("spec", "selector") or {}
        ns_sel = monitor.get("spec", "namespaceSelector") or {}
        watched = None if ns_sel.get("any") else set(ns_sel.get("matchNames") or [own_ns or "default"])
        ports = [e.get("port") for e in monitor.get("spec", "endpoints") or [] if isinstance(e, Mapping)]
        candidates = [(what, svc_ports) for ns, what, labels, svc_ports in known
                      if (watched is None or ns in watched) and labels_match(selector, labels) is not False]
        if not candidates and _targets_unmodelled_chart(idx, monitor):
            continue  # it names its target release (depends_on), whose Services we cannot render: not judged
        if not candidates and any(why - modelled for ns, why in unseen.items()
                                  if watched is None or ns == "*" or ns in watched):
            continue  # Services an unrendered chart or an operator makes there are unseen (pod_model): not judged
        if not candidates:
            yield monitor, (f"ServiceMonitor selector {dict(selector.get('matchLabels') or {})} in namespaces "
                            f"{sorted(watched) if watched else 'any'} matches no Service in the stack")
            continue
        for port in ports:
            if isinstance(port, str) and not any(port in svc_ports for _, svc_ports in candidates):
                yield monitor, (f"ServiceMonitor endpoint port {port!r} is not a port of "
                                f"{', '.join(w for w, _ in candidates)} (ports: "
                                f"{sorted({p for _, ps in candidates for p in ps})})")


# --- IRSA trust vs ServiceAccounts --------------------------------------------------------------------------------

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
# EKS add-ons create their own ServiceAccount (the add-on's IRSA subject).
ADDON_ACCOUNTS = {"vpc-cni": "kube-system/aws-node", "aws-ebs-csi-driver": "kube-system/ebs-csi-controller-sa",
                  "aws-efs-csi-driver": "kube-system/efs-csi-controller-sa",
                  "amazon-cloudwatch-observability": "amazon-cloudwatch/cloudwatch-agent",
                  "aws-mountpoint-s3-csi-driver": "kube-system/s3-csi-driver-sa",
                  "adot": "opentelemetry-operator-system/opentelemetry-operator"}


def trusted_subjects(role: Resource) -> list[str]:
    """`ns/name` patterns from the role trust's `<issuer>:sub` conditions (StringEquals/StringLike)."""
    found = []
    for st in statements(json_doc(role.get("assumeRolePolicy"), "assume role policy")):
        if st.get("Effect") != "Allow" or "sts:AssumeRoleWithWebIdentity" not in str(st.get("Action")):
            continue
        for op in ("StringEquals", "StringLike"):
            for key, value in ((st.get("Condition") or {}).get(op) or {}).items():
                if key.endswith(":sub"):
                    for sub in value if isinstance(value, list) else [value]:
                        if isinstance(sub, str) and sub.startswith("system:serviceaccount:"):
                            found.append(sub.removeprefix("system:serviceaccount:").replace(":", "/", 1))
    return found


def service_accounts(idx: Index) -> dict[str, Resource]:
    """`ns/name` -> what creates it: ServiceAccount objects, charts' `serviceAccount.name`, EKS add-ons."""
    found: dict[str, Resource] = {}
    for sa in idx.of_type(SERVICE_ACCOUNT):
        ns, name = meta(sa)
        found[f"{ns or 'default'}/{name}"] = sa
    for release in idx.of_type("kubernetes:helm.sh/v3:Release"):
        values = release_values(release)
        for key in ("serviceAccount", "rbac"):
            block = values.get(key)
            block = block.get("serviceAccount") if key == "rbac" and isinstance(block, Mapping) else block
            if isinstance(block, Mapping) and block.get("create", True) and isinstance(block.get("name"), str):
                found[f"{release_namespace(release)}/{block['name']}"] = release
    for name, account in ADDON_ACCOUNTS.items():
        if name in idx.addons:
            found[account] = idx.addons[name]
    for addon in idx.addons.values():  # any add-on given a role creates the ServiceAccount that role trusts
        for urn in addon.property_dependencies.get("serviceAccountRoleArn", ()):
            role = idx.get(urn)
            try:
                subjects = trusted_subjects(role) if role is not None else []
            except NotApplicable:
                subjects = []
            found.update({s: addon for s in subjects if "*" not in s and "?" not in s})
    return found


# `mlops-inv-irsa-service-account` is folded into the identity family (invariants_identity.py), which uses the
# two helpers above.


# --- Secret references ---------------------------------------------------------------------------------------------

def secret_refs(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, Secret name) of every non-optional reference in a pod spec."""
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    for c in containers:
        if not isinstance(c, Mapping):
            continue
        for env in c.get("env") or []:
            ref = ((env or {}).get("valueFrom") or {}).get("secretKeyRef") if isinstance(env, Mapping) else None
            if isinstance(ref, Mapping) and not ref.get("optional"):
                yield f"{c.get('name')} env {env.get('name')}", ref.get("name")
        for src in c.get("envFrom") or []:
            ref = src.get("secretRef") if isinstance(src, Mapping) else None
            if isinstance(ref, Mapping) and not ref.get("optional"):
                yield f"{c.get('name')} envFrom", ref.get("name")
    for vol in spec.get("volumes") or []:
        if not isinstance(vol, Mapping):
            continue
        sec = vol.get("secret")
        if isinstance(sec, Mapping) and not sec.get("optional"):
            yield f"volume {vol.get('name')}", sec.get("secretName")
        for source in (vol.get("projected") or {}).get("sources") or []:
            sec = source.get("secret") if isinstance(source, Mapping) else None
            if isinstance(sec, Mapping) and not sec.get("optional"):
                yield f"volume {vol.get('name')}", sec.get("name")
    # imagePullSecrets are not named here: the kubelet logs a missing one ("Unable to retrieve pull secret, the image
    # pull may not succeed", kubernetes pkg/kubelet/kubelet_pods.go getPullSecretsForPod) and pulls without it.


# Chart values that name an existing Secret in the release namespace: Grafana `admin.existingSecret` (and most
# Bitnami charts), kube-prometheus-stack `alertmanager.alertmanagerSpec.configSecret`.
CHART_SECRET_KEYS = ("existingSecret", "configSecret")


# --- Pod disruption budgets ------------------------------------------------------------------------------------------

def _lowest_replicas(idx: Index, workload: Resource) -> tuple[int | None, str]:
    ns, name = meta(workload)
    for hpa in idx.of_type(HPA):
        if meta(hpa)[0] == ns and hpa.get("spec", "scaleTargetRef", "name") == name:
            low = hpa.get("spec", "minReplicas")
            return (low if isinstance(low, int) else 1), f"HPA {meta(hpa)[1]} minReplicas"
    replicas = workload.get("spec", "replicas")
    return (replicas if isinstance(replicas, int) else 1 if replicas is None else None), "replicas"


def never_disrupts(spec: Mapping[str, Any], replicas: int) -> str | None:
    max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
    if max_unavailable in (0, "0%"):
        return f"maxUnavailable {max_unavailable!r}"
    if isinstance(min_available, int) and min_available >= replicas:
        return f"minAvailable {min_available}"
    if min_available == "100%":
        return "minAvailable '100%'"
    return None


@stack_policy(
    "mlops-inv-pdb-allows-disruption",
    description="No PodDisruptionBudget forbids every eviction (maxUnavailable 0, or minAvailable at least the "
                "workload's lowest replica count): it would block node drains and EKS upgrades forever.",
    severity="medium", pack=PACK,
    controls=("SOC2 A1.2",),
    remediation="Use maxUnavailable 1 (or minAvailable below the replica count, counting the HPA's minReplicas).",
)
def pdb_allows_disruption(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    for pdb in idx.of_type(PDB):
        ns = meta(pdb)[0]
        spec = pdb.get("spec") or {}
        selector = spec.get("selector") or {}
        for workload in idx.of_type(*WORKLOADS[:2]):
            labels = workload.get("spec", "template", "metadata", "labels") or {}
            if meta(workload)[0] != ns or labels_match(selector, labels) is not True:
                continue
            replicas, source = _lowest_replicas(idx, workload)
            reason = never_disrupts(spec, replicas) if replicas is not None else None
            if reason:
                yield pdb, (f"PDB {reason} never allows a disruption of {workload.type.rsplit(':', 1)[-1]} "
                            f"{meta(workload)[1]} ({source} {replicas}): node drains and upgrades block")


# --- workloads-only stacks ---------------------------------------------------------------------------------------

@stack_policy(
    "mlops-inv-shared-cluster-assumptions",
    description="A stack that deploys onto a cluster it does not own names what it assumes the cluster's own stack "
                "provides: an enforcing CNI, an autoscaler, metrics-server, StorageClasses, Ingress controllers.",
    severity="low", pack=PACK, strictness="advisory",
    controls=("SOC2 CC3.2",),
    remediation="Confirm the cluster stack provides each named item (its own invariants check them there), or set "
                "clusterOwner: true if this stack owns the cluster.",
    config=CLUSTER_CONFIG,
)
def shared_cluster_assumptions(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    if idx.owns_cluster(config):
        return
    assumed = []
    if idx.of_type(NETWORK_POLICY) and not idx.releases(*ENFORCING_CNI_CHARTS):
        assumed.append("a CNI that enforces NetworkPolicies")
    if any(g.get("scalingConfig", "minSize") == 0 for g in idx.of_type(NODE_GROUP)) and not idx.releases(
            *AUTOSCALER_CHARTS):
        assumed.append("an autoscaler for node groups at zero")
    if idx.of_type(HPA) and "metrics.k8s.io" not in _metric_sources(idx):
        assumed.append("metrics-server")
    classes = sorted({c for _, _, c in storage_class_uses(idx) if isinstance(c, str) and c not in ("", "-")})
    if classes:
        assumed.append(f"StorageClasses {', '.join(classes)}")
    ingress = sorted({str(i.get("spec", "ingressClassName")) for i in idx.of_type(INGRESS)})
    if ingress:
        assumed.append(f"Ingress controllers for {', '.join(ingress)}")
    if assumed:
        yield stack_level(), f"stack deploys onto a cluster it does not own and assumes it provides: {'; '.join(assumed)}"
