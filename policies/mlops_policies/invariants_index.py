"""What the invariants share: one index of the stack (built once per check), cluster ownership, and models of what
well-known charts and EKS add-ons put in the cluster.

Invariants judge relations between resources ("the class this Ingress names has a controller in the stack").
Each needs to look things up by type, by Kubernetes kind/namespace/name and by Helm chart; the index answers
those in O(1) after one pass over the stack, so adding an invariant costs one pass, not one pass per resource.

Ownership: an invariant that needs something inside the cluster (the CNI setting, a controller, metrics-server,
a StorageClass, an autoscaler) applies only to the stack that owns the cluster: it creates
`aws:eks/cluster:Cluster`, or its policy config says `clusterOwner: true`. A workloads-only stack on a shared
cluster gets the advisory `mlops-inv-shared-cluster-assumptions` instead, naming what it assumes.
"""

from __future__ import annotations

import json
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import UNKNOWN, NotApplicable, Resource, Stack, as_list, dig

CLUSTER = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
RELEASE = "kubernetes:helm.sh/v3:Release"
RELEASE_V4 = "kubernetes:helm.sh/v4:Chart"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
SECRET = "kubernetes:core/v1:Secret"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
INGRESS_CLASS = "kubernetes:networking.k8s.io/v1:IngressClass"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
API_SERVICE = "kubernetes:apiregistration.k8s.io/v1:APIService"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
             "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Pod")
EXTERNAL_SECRETS = ("kubernetes:external-secrets.io/v1:ExternalSecret",
                    "kubernetes:external-secrets.io/v1beta1:ExternalSecret")

CLUSTER_CONFIG: dict[str, dict[str, Any]] = {
    "clusterOwner": {"type": ["boolean", "null"], "default": None,
                     "description": "Whether this stack owns the EKS cluster it deploys to (default null: it does "
                                    "when it creates aws:eks/cluster:Cluster). Cluster-side invariants apply only "
                                    "to the owner."},
}


def stack_level() -> Resource:
    """The stack itself, for a violation about something the stack lacks."""
    return Resource("pulumi:pulumi:Stack", "(stack)", "", {})


def chart_name(release: Resource) -> str:
    """`kube-prometheus-stack` from `kube-prometheus-stack`, `repo/name` or `oci://host/path/name`."""
    chart = release.get("chart")
    return chart.rstrip("/").rsplit("/", 1)[-1] if isinstance(chart, str) else ""


def meta(res: Resource) -> tuple[str, str]:
    """(namespace, name) of a Kubernetes object ("" when unset or unknown)."""
    ns, name = res.get("metadata", "namespace"), res.get("metadata", "name")
    return (ns if isinstance(ns, str) else "", name if isinstance(name, str) else "")


def namespace_of(res: Resource) -> str:
    """The namespace a namespaced object lands in: `metadata.namespace`, else the `namespace` input of the
    `k8s.Provider` it was created with (pulumi-kubernetes applies it to objects that name none), else "default"."""
    ns = res.get("metadata", "namespace")
    if isinstance(ns, str) and ns:
        return ns
    provider_ns = dig(res.provider_props or {}, "namespace")
    return provider_ns if isinstance(provider_ns, str) and provider_ns else "default"


def release_namespace(release: Resource) -> str:
    ns = release.get("namespace")
    return ns if isinstance(ns, str) else "default"


def release_values(release: Resource) -> Mapping[str, Any]:
    values = release.get("values")
    return values if isinstance(values, Mapping) else {}


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, key, value) for every mapping entry in a values tree."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub, key, item
            yield from walk(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, f"{path}[{i}]")


def pod_spec(workload: Resource) -> Mapping[str, Any]:
    """The pod spec of a Deployment/StatefulSet/DaemonSet/Job (spec.template.spec), CronJob or Pod."""
    if workload.type.endswith(":CronJob"):
        spec = workload.get("spec", "jobTemplate", "spec", "template", "spec")
    elif workload.type.endswith(":Pod"):
        spec = workload.get("spec")
    else:
        spec = workload.get("spec", "template", "spec")
    return spec if isinstance(spec, Mapping) else {}


def doc(value: Any) -> Any:
    """A JSON string (configurationValues, policies) parsed, or the value itself."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


class Index:
    """The stack, looked up by type, by Kubernetes (kind, namespace, name) and by chart: built once per Stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.by_type: dict[str, list[Resource]] = defaultdict(list)
        self.k8s: dict[tuple[str, str, str], Resource] = {}
        """(kind, namespace, name) -> object; the namespace as the object lands in it (`namespace_of`)."""
        self.unnamespaced: dict[tuple[str, str], Resource] = {}
        """(kind, name) -> object without `metadata.namespace` (cluster-scoped kinds such as IngressClass)."""
        self.charts: dict[str, list[Resource]] = defaultdict(list)
        for res in stack.resources:
            self.by_type[res.type].append(res)
            if res.type.startswith("kubernetes:") and res.type not in (RELEASE, RELEASE_V4):
                kind, (ns, name) = res.type.rsplit(":", 1)[-1], meta(res)
                self.k8s[(kind, namespace_of(res), name)] = res
                if not ns:
                    self.unnamespaced[(kind, name)] = res
        for res in self.of_type(RELEASE, RELEASE_V4):
            self.charts[chart_name(res)].append(res)
        releases = {r.urn for r in self.of_type(RELEASE, RELEASE_V4)}
        self.rendered_releases: set[str] = {r.parent for r in stack.resources if r.parent in releases}
        """Releases whose objects `mlops-infra check` rendered into the stack (their Services are real objects)."""
        self.addons: dict[str, Resource] = {}
        for addon in self.of_type(ADDON):
            name = addon.get("addonName")
            if isinstance(name, str):
                self.addons[name] = addon

    def of_type(self, *types: str) -> list[Resource]:
        return [r for t in types for r in self.by_type.get(t, ())]

    def releases(self, *charts: str) -> list[Resource]:
        return [r for c in charts for r in self.charts.get(c, ())]

    def get(self, urn: str) -> Resource | None:
        return self.stack.by_urn.get(urn)

    def deps_of(self, res: Resource) -> set[str]:
        return {*res.dependencies, *(u for urns in res.property_dependencies.values() for u in urns)}

    def waits_for(self, res: Resource) -> set[str]:
        """Everything `res` waits for before the engine creates it, transitively: its dependencies, theirs, and so
        on; an object rendered from a Helm release waits for what the release waits for (Helm installs it)."""
        seen: set[str] = set()
        todo = [*self.deps_of(res), *([res.parent] if res.parent else [])]
        while todo:
            urn = todo.pop()
            if urn in seen:
                continue
            seen.add(urn)
            dep = self.get(urn)
            if dep is not None:
                todo.extend(self.deps_of(dep))
        return seen

    def owns_cluster(self, config: Mapping[str, Any]) -> bool:
        explicit = config.get("clusterOwner")
        if isinstance(explicit, bool):
            return explicit
        return bool(self.by_type.get(CLUSTER))


_INDEXES: weakref.WeakKeyDictionary[Stack, Index] = weakref.WeakKeyDictionary()


def index(stack: Stack) -> Index:
    """The stack's index, built on first use and shared by every invariant of the same check."""
    found = _INDEXES.get(stack)
    if found is None:
        found = _INDEXES[stack] = Index(stack)
    return found


def cluster_scoped(stack: Stack, config: Mapping[str, Any]) -> Index:
    """The index, or NotApplicable when the stack does not own the cluster (the advisory covers that case)."""
    idx = index(stack)
    if not idx.owns_cluster(config):
        raise NotApplicable("the stack does not own the cluster (see mlops-inv-shared-cluster-assumptions)")
    return idx


def names(resources: Iterable[Resource], limit: int = 3) -> str:
    items = sorted({r.name for r in resources})
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


class PerPod(frozenset[str]):
    """A label a controller sets on each pod with its own value (StatefulSet ordinal, Job name): a selector value
    matches when some pod carries it."""

    def has(self, value: Any) -> bool:
        return value in self


class AnyPerPod(PerPod):
    """A controller-set label whose values the plan cannot know (a Job's uid, a CronJob's job names)."""

    def has(self, value: Any) -> bool:
        return True


def label_is(have: Any, want: Any) -> bool:
    """Whether a pod label (`have`, perhaps one value per pod) may equal a selector value."""
    return have.has(want) if isinstance(have, PerPod) else bool(have == want)


def labels_match(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool | None:
    """matchLabels and matchExpressions against labels; None when a selector value is unknown."""
    wanted = selector.get("matchLabels") or {}
    if wanted is UNKNOWN or any(v is UNKNOWN for v in wanted.values()):
        return None
    if any(labels.get(k) is UNKNOWN for k in wanted):
        return None
    ok = all(label_is(labels.get(k), v) for k, v in wanted.items())
    for expr in as_list(selector.get("matchExpressions")):
        key, op, values = dig(expr, "key"), dig(expr, "operator"), as_list(dig(expr, "values"))
        has = key in labels
        if op == "In":
            ok = ok and has and any(label_is(labels[key], v) for v in values)
        elif op == "NotIn":  # a per-pod label: some pod's value may lie outside `values`
            ok = ok and not (has and not isinstance(labels[key], PerPod) and labels[key] in values)
        elif op == "Exists":
            ok = ok and has
        elif op == "DoesNotExist":
            ok = ok and not has
        else:
            return None
    return ok


def produced_secrets(idx: Index) -> set[str]:
    found = set()
    for secret in idx.of_type(SECRET):
        ns, name = meta(secret)
        found.add(f"{ns or 'default'}/{name}")
    for es in idx.of_type(*EXTERNAL_SECRETS):
        ns, name = meta(es)
        target = es.get("spec", "target", "name")
        found.add(f"{ns or 'default'}/{target if isinstance(target, str) else name}")
    for cert in idx.of_type("kubernetes:cert-manager.io/v1:Certificate"):  # cert-manager writes spec.secretName
        ns, _ = meta(cert)
        if isinstance(cert.get("spec", "secretName"), str):
            found.add(f"{ns or 'default'}/{cert.get('spec', 'secretName')}")
    for job in idx.of_type("kubernetes:batch/v1:Job"):  # kube-webhook-certgen (charts' admission hooks)
        ns, _ = meta(job)
        for container in job.get("spec", "template", "spec", "containers") or []:
            for arg in (container.get("args") or []) if isinstance(container, Mapping) else []:
                if isinstance(arg, str) and arg.startswith("--secret-name="):
                    found.add(f"{ns or 'default'}/{arg.removeprefix('--secret-name=')}")
    return found
