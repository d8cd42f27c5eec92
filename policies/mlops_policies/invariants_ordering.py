"""Family `ordering` (#30 family 6): a custom resource waits, directly or transitively, for what installs its CRD.

What installs a CRD: a CustomResourceDefinition object (written in the program, or rendered by `check` from a Helm
release's `crds/` or templates, a kustomize base or a yaml ConfigFile: then a child of that installer), or an
unrendered release of a chart known to carry the group (CRD_CHARTS).

What "waits" means, per engine semantics (mlops_infra/plan records `dependencies` = dependsOn plus every property
dependency, a component dependency already expanded by the SDK to the component's custom children):
- dependencies are transitive: A waits for B, B waits for the CRD => A waits for the CRD;
- waiting for a component (a ComponentResource, a helm v4 Chart, kustomize v2 Directory, yaml v2 ConfigFile or
  ConfigGroup) is waiting for all its descendants; waiting for a helm v3 Release is waiting for every object Helm
  installs with it (the rendered children), CRDs from `crds/` first;
- objects of one pulumi-kubernetes v4 component wait for the CRDs in the same component (pulumi-kubernetes v4.32.0
  provider/pkg/provider/yaml/v2/yaml.go `Register`: objects are sorted with cli-utils' DependencyGraph and each
  gets DependsOn on the objects it depends on, a custom resource on its CRD); objects of one Helm release are
  installed by Helm, CRDs first;
- a resource whose parent is a custom resource waits for it (the SDK awaits the parent's URN, resolved once the
  parent is registered), and is counted as waiting for what its parent waits for (a child of a component: the same,
  leniently: a false alarm costs more than a miss here).

A custom resource whose group nothing in the stack installs is a finding only in the stack that owns the cluster
(a consumer stack's CRDs come from the cluster's own stack: node and cluster facts it cannot see are not judged),
and not when an unrendered kustomize base, yaml file or unknown chart may install it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import Resource, Stack, stack_policy
from .invariants_cluster import PACK
from .invariants_index import CLUSTER, CLUSTER_CONFIG, CRD, Index, chart_name, index, meta
from .pod_model import INSTALLERS, api_group, shown

# Charts that install CRDs, and their API groups (each chart's crds/ or templates/crds at the pinned version);
# used only for a release `check` did not render (a rendered one brings its real CRD objects).
CRD_CHARTS: dict[str, tuple[str, ...]] = {
    "kube-prometheus-stack": ("monitoring.coreos.com",), "prometheus-operator-crds": ("monitoring.coreos.com",),
    "external-secrets": ("external-secrets.io", "generators.external-secrets.io"),
    "karpenter": ("karpenter.sh", "karpenter.k8s.aws"), "karpenter-crd": ("karpenter.sh", "karpenter.k8s.aws"),
    "kubeflow-trainer": ("trainer.kubeflow.org",), "aws-load-balancer-controller": ("elbv2.k8s.aws",),
    "cert-manager": ("cert-manager.io", "acme.cert-manager.io"), "keda": ("keda.sh", "eventing.keda.sh"),
    "kuberay-operator": ("ray.io",), "gpu-operator": ("nvidia.com",), "volcano": ("batch.volcano.sh",),
    # kserve/kserve v0.20.0 charts/kserve-crd/templates: serving.kserve.io_{inferenceservices,servingruntimes,...}.
    "kserve-crd": ("serving.kserve.io",),
}
# CRDs EKS itself installs. The `snapshot-controller` add-on brings snapshot.storage.k8s.io (VolumeSnapshot,
# VolumeSnapshotClass, VolumeSnapshotContent); a cluster with EKS Auto Mode (computeConfig.enabled) comes with
# Karpenter's karpenter.sh NodePool/NodeClaim and eks.amazonaws.com NodeClass already in place.
ADDON_CRDS: dict[str, tuple[str, ...]] = {"snapshot-controller": ("snapshot.storage.k8s.io",)}
AUTO_MODE_GROUPS = ("karpenter.sh", "eks.amazonaws.com")
PROVIDER_PACKAGES = frozenset({"aws", "kubernetes", "random", "tls", "command", "pulumi", "std", "docker"})
KUBE_COMPONENTS = frozenset(INSTALLERS) - {"kubernetes:helm.sh/v3:Release"}


def is_component(res: Resource) -> bool:
    """A component (no provider): the SDK expands a dependency on it to its descendants."""
    return res.type in KUBE_COMPONENTS or res.type.split(":", 1)[0] not in PROVIDER_PACKAGES


class Graph:
    """Children and installers of one stack, built once per check."""

    def __init__(self, idx: Index) -> None:
        self.idx = idx
        self.children: dict[str, list[str]] = {}
        for res in idx.stack.resources:
            if res.parent:
                self.children.setdefault(res.parent, []).append(res.urn)
        self.installers: dict[tuple[str, str], list[Resource]] = {}
        """(group, kind) -> CRD objects; (group, "*") -> releases of a known chart not rendered."""
        for crd in idx.of_type(CRD):
            group, kind = crd.get("spec", "group"), crd.get("spec", "names", "kind")
            if isinstance(group, str) and isinstance(kind, str):
                self.installers.setdefault((group, kind), []).append(crd)
        for chart, groups in CRD_CHARTS.items():
            for release in idx.releases(chart):
                if release.urn not in self.children:
                    for group in groups:
                        self.installers.setdefault((group, "*"), []).append(release)
        for name, addon in idx.addons.items():
            for group in ADDON_CRDS.get(name, ()):
                self.installers.setdefault((group, "*"), []).append(addon)
        self.builtin: set[str] = {g for c in idx.of_type(CLUSTER) if c.get("computeConfig", "enabled") is True
                                  for g in AUTO_MODE_GROUPS}
        """API groups an Auto Mode cluster serves before any object can reach it."""
        self.opaque = [r for r in idx.of_type(*INSTALLERS) if r.urn not in self.children
                       and chart_name(r) not in CRD_CHARTS]
        """Installers `check` did not render, of charts not modelled here: they may install any CRD."""

    def descendants(self, urn: str) -> Iterator[str]:
        todo = list(self.children.get(urn, ()))
        while todo:
            child = todo.pop()
            yield child
            todo.extend(self.children.get(child, ()))

    def waits(self, res: Resource, targets: set[str]) -> bool:
        """Whether `res` waits, directly or transitively, for one of `targets` (URNs). A node reached through a
        dependency brings its descendants when it is a component or installer; a parent reached by ascending brings
        what it waits for, not its other children."""
        seen: set[tuple[str, bool]] = set()
        todo = [*((u, True) for u in self.idx.deps_of(res)), *([(res.parent, False)] if res.parent else [])]
        while todo:
            item = todo.pop()
            if item in seen:
                continue
            seen.add(item)
            urn, waited = item
            dep = self.idx.get(urn)
            if urn in targets and (waited or (dep is not None and not is_component(dep))):
                return True  # a custom parent is waited for: the SDK awaits its URN
            if dep is None:
                continue
            todo.extend((u, True) for u in self.idx.deps_of(dep))
            if dep.parent:
                todo.append((dep.parent, False))
            if waited and (dep.type in INSTALLERS or is_component(dep)):
                todo.extend((u, True) for u in self.descendants(urn))
        return False

    def co_installed(self, res: Resource, crd: Resource) -> bool:
        """The CR and its CRD are objects of the same installer (Helm or a pulumi-kubernetes v4 component)."""
        if not res.parent or res.parent != crd.parent:
            return False
        owner = self.idx.get(res.parent)
        return owner is not None and owner.type in INSTALLERS


def _kind(res: Resource) -> str:
    return res.type.rsplit(":", 1)[-1]


def _describe(res: Resource) -> str:
    ns, _ = meta(res)
    where = f"{ns}/{shown(res)}" if ns else shown(res)
    return f"{_kind(res)} {where}"


def _installed_by(res: Resource, idx: Index) -> str:
    """` (installed by Release x)` for an object an installer renders: where its dependsOn is written."""
    owner = idx.get(res.parent) if res.parent else None
    return f" (installed by {owner.type.rsplit(':', 1)[-1]} {owner.name})" if owner is not None \
        and owner.type in INSTALLERS else ""


def _installer(res: Resource, idx: Index) -> str:
    if res.type == CRD:
        return f"CustomResourceDefinition {shown(res)}{_installed_by(res, idx)}"
    return f"{res.type.rsplit(':', 1)[-1]} {res.name}"


def ordering_findings(idx: Index, owns_cluster: bool) -> Iterator[tuple[Resource, str]]:
    graph = Graph(idx)
    for res in idx.stack.resources:
        group = api_group(res)
        if group is None or res.type == CRD or group in graph.builtin:
            continue
        kind = _kind(res)
        sources = graph.installers.get((group, kind), []) + graph.installers.get((group, "*"), [])
        if not sources:
            if owns_cluster and not graph.opaque:
                yield res, (f"{_describe(res)} uses API group {group}, but nothing in the stack installs its CRD "
                            f"(no CustomResourceDefinition for {kind}, no release of a chart that carries it): "
                            "install the CRD (its chart or the CRD object) and make the resource depend on it")
            continue
        if any(s.type == CRD and graph.co_installed(res, s) for s in sources):
            continue
        targets = {s.urn for s in sources}
        targets |= {s.parent for s in sources if s.parent and (
            (owner := idx.get(s.parent)) is not None and (owner.type in INSTALLERS or is_component(owner)))}
        if graph.waits(res, targets):
            continue
        if graph.opaque and any(graph.waits(res, {o.urn}) for o in graph.opaque):
            continue  # it waits for an unrendered installer that may carry the CRD
        what = ", ".join(sorted({_installer(s, idx) for s in sources})[:3])
        yield res, (f"{_describe(res)}{_installed_by(res, idx)} does not wait for {what}, which installs its CRD ({kind}.{group}): the "
                    "first deploy can create it before the CRD exists ('no matches for kind'); pass depends_on on "
                    "the installer (or on something that waits for it)")


@stack_policy(
    "mlops-inv-crd-before-custom-resource",
    description="A custom resource waits, directly or transitively (dependsOn, property dependencies, component "
                "children, Helm and pulumi-kubernetes install order), for what installs its CRD: a "
                "CustomResourceDefinition object, a Helm release or v4 Chart that renders it, a kustomize "
                "Directory or yaml ConfigFile; otherwise the first `pulumi up` fails with 'no matches for kind' "
                "(pulumi-kubernetes issues #1729, #2155). In the stack that owns the cluster, a custom resource "
                "whose CRD nothing installs is a finding too.",
    severity="high", pack=PACK,
    controls=("SOC2 CC8.1",),
    remediation="Pass depends_on=[installer] to the custom resource (or to something it already waits for), or "
                "install the CRDs in the cluster stack.",
    config=CLUSTER_CONFIG,
)
def crd_before_custom_resource(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    return ordering_findings(idx, idx.owns_cluster(config))
