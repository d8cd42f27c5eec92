"""The pods a program runs, from every shape that makes them, and the namespaces whose pods the inventory cannot see.

A pod template comes from a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob or a plain Pod, written in
the program or rendered from a chart or kustomize base (rendered objects are ordinary inventory entries). The family
invariants (selector, placement) judge these templates.

What the inventory cannot see: a Helm release, v4 Chart, kustomize Directory or yaml ConfigFile/ConfigGroup that was
not rendered (no children in the inventory) installs objects we do not hold, and an operator's custom resource (a
Prometheus, a RayCluster, an InferenceService) makes pods at run time. A selector that matches nothing in such a
namespace is not judged: its pods may exist.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core import UNKNOWN, Resource, Stack, as_list
from .invariants_index import AnyPerPod, Index, PerPod, chart_name, index, label_is, meta, namespace_of, pod_spec

WORKLOAD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
                  "kubernetes:apps/v1:ReplicaSet", "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob",
                  "kubernetes:core/v1:Pod")
INSTALLERS = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart",
              "kubernetes:kustomize/v2:Directory", "kubernetes:yaml/v2:ConfigFile", "kubernetes:yaml/v2:ConfigGroup")
"""Resources that install objects of their own (children once `check` rendered them)."""
NO_POD_GROUPS = frozenset({
    "external-secrets.io", "generators.external-secrets.io", "cert-manager.io", "acme.cert-manager.io",
    "karpenter.sh", "karpenter.k8s.aws", "elbv2.k8s.aws", "secrets-store.csi.x-k8s.io", "vpcresources.k8s.aws",
    "apiextensions.k8s.io", "gateway.networking.k8s.io", "snapshot.storage.k8s.io", "eks.amazonaws.com"})
NO_POD_KINDS = frozenset({"ServiceMonitor", "PodMonitor", "PrometheusRule", "Probe", "ScrapeConfig",
                          "AlertmanagerConfig", "ServingRuntime", "ClusterServingRuntime"})
"""Custom resources that configure rather than run pods (every other custom kind may make pods at run time)."""
ADDON_NAMESPACES = {"amazon-cloudwatch-observability": "amazon-cloudwatch", "adot": "opentelemetry-operator-system",
                    "aws-guardduty-agent": "amazon-guardduty", "cert-manager": "cert-manager"}
"""EKS add-ons that run their pods outside kube-system (the add-ons' own manifests)."""
BUILTIN = frozenset({"core", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "storage.k8s.io",
                     "rbac.authorization.k8s.io", "scheduling.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io",
                     "admissionregistration.k8s.io", "discovery.k8s.io", "node.k8s.io", "certificates.k8s.io",
                     "apiregistration.k8s.io", "flowcontrol.apiserver.k8s.io", "events.k8s.io", "resource.k8s.io",
                     "helm.sh", "yaml", "kustomize"})


@dataclass(frozen=True)
class PodTemplate:
    """One template's pods: who makes them, where, their labels and spec, and what their containers listen on."""

    res: Resource
    kind: str
    namespace: str
    name: str
    labels: Mapping[str, Any]
    spec: Mapping[str, Any]
    ports: frozenset[tuple[str, int]]
    """(protocol, containerPort) of the containers and restartable init containers (native sidecars)."""
    named: Mapping[tuple[str, str], int]
    """(protocol, port name) -> containerPort."""

    @property
    def what(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def batch(self) -> bool:
        return self.kind in ("Job", "CronJob")


def shown(res: Resource, name: str = "") -> str:
    """The object's name for a message: metadata.name, with the program's resource name when it differs (an
    autonamed object has no metadata.name at preview: the resource name alone)."""
    name = name or meta(res)[1]
    if not name:
        return res.name
    return name if res.name in (name, "") or res.name.endswith(f"/{name}") else f"{name} (resource {res.name})"


def others(templates: list[Resource], limit: int = 3) -> str:
    """`; there: Service a, Service b (resource x)`: what the namespace holds instead (the other end of a typo)."""
    items = sorted({f"{r.type.rsplit(':', 1)[-1]} {shown(r)}" for r in templates})
    return f"; there: {', '.join(items[:limit])}" if items else ""


def template_labels(res: Resource) -> Any:
    if res.type.endswith(":Pod"):
        return res.get("metadata", "labels")
    if res.type.endswith(":CronJob"):
        return res.get("spec", "jobTemplate", "spec", "template", "metadata", "labels")
    return res.get("spec", "template", "metadata", "labels")


STS_POD_NAME, POD_INDEX = "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index"
JOB_LABELS = ("job-name", "batch.kubernetes.io/job-name")
UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def controller_labels(res: Resource) -> dict[str, PerPod]:
    """Labels the controllers add to each pod beyond the template's: a StatefulSet's pod <name>-<ordinal> carries
    `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index` (ordinals 0..replicas-1), a Job's pods
    `job-name`, `controller-uid` and their `batch.kubernetes.io/` twins (the API server sets them with the generated
    selector). Values the plan does not know match any selector value."""
    kind, name = res.type.rsplit(":", 1)[-1], meta(res)[1]
    if kind == "StatefulSet":
        replicas = res.get("spec", "replicas")
        replicas = 1 if replicas is None else replicas
        if not name or not isinstance(replicas, int) or isinstance(replicas, bool):
            return {STS_POD_NAME: AnyPerPod(), POD_INDEX: AnyPerPod()}
        return {STS_POD_NAME: PerPod(f"{name}-{i}" for i in range(replicas)),
                POD_INDEX: PerPod(str(i) for i in range(replicas))}
    if kind in ("Job", "CronJob"):
        job = PerPod({name}) if kind == "Job" and name else AnyPerPod()
        return {**dict.fromkeys(JOB_LABELS, job), **dict.fromkeys(UID_LABELS, AnyPerPod())}
    return {}


def listening(spec: Mapping[str, Any]) -> tuple[frozenset[tuple[str, int]], dict[tuple[str, str], int]]:
    containers = [*as_list(spec.get("containers")),
                  *(c for c in as_list(spec.get("initContainers"))
                    if isinstance(c, Mapping) and c.get("restartPolicy") == "Always")]
    ports: set[tuple[str, int]] = set()
    named: dict[tuple[str, str], int] = {}
    for c in containers:
        for p in as_list(c.get("ports")) if isinstance(c, Mapping) else []:
            if isinstance(p, Mapping) and isinstance(p.get("containerPort"), int):
                proto = str(p.get("protocol") or "TCP")
                ports.add((proto, p["containerPort"]))
                if isinstance(p.get("name"), str):
                    named[(proto, p["name"])] = p["containerPort"]
    return frozenset(ports), named


def api_group(res: Resource) -> str | None:
    """`monitoring.coreos.com` of `kubernetes:monitoring.coreos.com/v1:ServiceMonitor`; None for built-ins."""
    parts = res.type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or "/" not in parts[1]:
        return None
    group = parts[1].rsplit("/", 1)[0]
    return None if group in BUILTIN else group


class Pods:
    """Every pod template of a stack, by namespace, and what the stack cannot see; built once per Stack."""

    def __init__(self, idx: Index) -> None:
        self.templates: list[PodTemplate] = []
        self.by_ns: dict[str, list[PodTemplate]] = {}
        for res in idx.of_type(*WORKLOAD_TYPES):
            spec = pod_spec(res)
            labels = template_labels(res)
            ns, name = namespace_of(res), shown(res, meta(res)[1])
            ports, named = listening(spec)
            labels = {**labels, **controller_labels(res)} if isinstance(labels, Mapping) else labels
            tpl = PodTemplate(res, res.type.rsplit(":", 1)[-1], ns, name,
                              labels if isinstance(labels, Mapping) else {} if labels is None else {"": UNKNOWN},
                              spec, ports, named)
            self.templates.append(tpl)
            self.by_ns.setdefault(tpl.namespace, []).append(tpl)
        parents = {r.parent for r in idx.stack.resources if r.parent}
        self.why: dict[str, set[str]] = {}
        """Namespace ("*": any) -> what may run pods there that the inventory lacks: `eks` (CoreDNS, kube-proxy,
        aws-node and add-ons), `chart:<name>` (an unrendered installer), `operator` (custom resources)."""
        for ns in ("kube-system", *(ADDON_NAMESPACES.get(a, "kube-system") for a in idx.addons)):
            self.why.setdefault(ns, set()).add("eks")
        for inst in idx.of_type(*INSTALLERS):
            if inst.urn in parents:
                continue
            ns = inst.get("namespace")
            where = ns if isinstance(ns, str) and ns else "default" if inst.type.endswith(":Release") else "*"
            self.why.setdefault(where, set()).add(f"chart:{chart_name(inst)}")
        for res in idx.stack.resources:
            group = api_group(res)
            if group and group not in NO_POD_GROUPS and res.type.rsplit(":", 1)[-1] not in NO_POD_KINDS:
                ns = res.get("metadata", "namespace")
                if ns is UNKNOWN or isinstance(ns, str):  # a cluster-scoped kind (no namespace) runs pods elsewhere
                    self.why.setdefault(ns if isinstance(ns, str) and ns else "*", set()).add("operator")
        self.unseen: set[str] = set(self.why)
        """Namespaces where pods the inventory lacks may run ("*": any namespace)."""

    def blind(self, ns: str) -> bool:
        """Whether pods the inventory lacks may run in `ns` (a miss there is not judged)."""
        return "*" in self.unseen or ns in self.unseen or ns is UNKNOWN

    def in_namespace(self, ns: str) -> list[PodTemplate]:
        return self.by_ns.get(ns, [])


_PODS: weakref.WeakKeyDictionary[Stack, Pods] = weakref.WeakKeyDictionary()


def pods(stack: Stack) -> Pods:
    found = _PODS.get(stack)
    if found is None:
        found = _PODS[stack] = Pods(index(stack))
    return found


def selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool | None:
    """A Service-style selector (plain labels) against pod labels; None when either side is unknown."""
    if any(v is UNKNOWN for v in selector.values()) or any(v is UNKNOWN for v in labels.values()):
        return None
    return all(label_is(labels.get(k), v) for k, v in selector.items())
