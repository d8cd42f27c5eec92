"""What the real engine refuses and the mock engine would accept: checked over the recorded registrations.

- Duplicate URNs: `pulumi up` fails with "Duplicate resource URN"; the mock monitor answers both registrations.
- A resource whose parent is not a registered component: the engine cannot find the parent (or, for a custom
  parent, the program built a tree our components never build).
- A Kubernetes resource under one of our `mlops:` components without an explicit provider: under the engine it
  would bind to the default provider, i.e. the ambient kubeconfig, not the cluster the component was given.
- One Kubernetes object registered twice on one provider (same group, kind, namespace and name, different URNs):
  the plan passes, but pulumi-kubernetes (>= 4.29 creates client-side) gets AlreadyExists for the second. Patch
  resources (`...Patch`) and reads are meant to name an existing object, and are left out. Scope and default
  namespace come from `kube_identity`: a cluster-scoped object has no namespace, whatever its metadata says; a
  namespaced one without `metadata.namespace` is the one in its provider's default namespace (when that is not
  known at plan time, it is only the same object as another unnamespaced one on that provider); an object of a
  kind whose scope is not known is compared by the namespace as written.
- Two Helm releases of one name in one namespace on one provider: Helm keeps a release's history in its namespace
  under its name, so the second install fails ("cannot re-use a name that is still in use").
- Once releases are rendered (`plan --render`, `check`): an object a Helm release renders that another release or a
  Pulumi resource also creates on that cluster (same group, kind, namespace and name; cluster-scoped kinds by name
  alone). Helm adopts an existing object only when its `app.kubernetes.io/managed-by: Helm` label and
  `meta.helm.sh/release-name`/`-namespace` annotations name the installing release (helm pkg/action/validate.go
  `checkOwnership`), so the second install fails: `<Kind> "<name>" in namespace "<ns>" exists and cannot be
  imported into the current release: invalid ownership metadata`. E.g. two components installing one chart under
  different release names into one namespace, colliding on its cluster-scoped or fixed-name objects.

Each problem is one line; the engine raises them together as a PlanError of kind "input" (exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .inventory import SECRET, UNKNOWN, ResourceRecord
from .kube_identity import PROVIDER_NAMESPACE, cluster_scoped, provider_namespaces

CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
RELEASE = "kubernetes:helm.sh/v3:Release"

COMPONENT_PREFIX = "mlops:"


@dataclass(frozen=True)
class Registration:
    """One RegisterResource call: its order and where in the tree it came from."""

    index: int
    record: ResourceRecord
    provider: bool = False
    """A provider resource: `index` counts providers only (the SDK registers default providers lazily, so they are
    numbered apart from the program's other resources)."""

    def describe(self) -> str:
        parent = self.record.parent.rsplit("::", 1)[-1] if self.record.parent else "the stack"
        kind = "provider registration" if self.provider else "registration"
        return f"{kind} #{self.index} ({self.record.type} under {parent})"


def duplicate_urns(registrations: Sequence[Registration]) -> list[str]:
    first: dict[str, Registration] = {}
    problems = []
    for reg in registrations:
        seen = first.get(reg.record.urn)
        if seen is None:
            first[reg.record.urn] = reg
        else:
            problems.append(f"duplicate resource URN {reg.record.urn}: {seen.describe()} and {reg.describe()}")
    return problems


def orphaned_parents(records: Sequence[ResourceRecord]) -> list[str]:
    by_urn = {r.urn: r for r in records}
    problems = []
    for record in records:
        if record.parent is None:
            continue
        parent = by_urn.get(record.parent)
        if parent is None:
            problems.append(f"{record.urn}: parent {record.parent} is not a registered resource")
        elif parent.custom:
            problems.append(f"{record.urn}: parent {record.parent} is a custom resource, not a component")
    return problems


def ambient_kubernetes(records: Sequence[ResourceRecord]) -> list[str]:
    """Kubernetes custom resources inside an `mlops:` component that carry no explicit provider."""
    by_urn = {r.urn: r for r in records}
    problems = []
    for record in records:
        if not (record.custom and record.type.startswith("kubernetes:")) or (record.options or {}).get("read"):
            continue
        if (record.options or {}).get("provider"):
            continue
        owner = _mlops_ancestor(record, by_urn)
        if owner is not None:
            problems.append(f"{record.urn}: Kubernetes resource inside component {owner} has no explicit provider "
                            "(it would use the ambient kubeconfig); pass the cluster's provider in opts.providers")
    return problems


def _mlops_ancestor(record: ResourceRecord, by_urn: dict[str, ResourceRecord]) -> str | None:
    seen = set()
    parent = by_urn.get(record.parent or "")
    while parent is not None and parent.urn not in seen:
        seen.add(parent.urn)
        if not parent.custom and parent.type.startswith(COMPONENT_PREFIX):
            return parent.name
        parent = by_urn.get(parent.parent or "")
    return None


def duplicate_kubernetes_objects(registrations: Sequence[Registration]) -> list[str]:
    """Two registrations of one Kubernetes object (group, kind, namespace, name) on one provider."""
    first: dict[tuple[str, str, str, str, str], Registration] = {}
    problems = []
    scopes = _crd_scopes(registrations)
    namespaces = provider_namespaces(r.record for r in registrations if r.provider)
    for reg in registrations:
        key = _kubernetes_object(reg.record, scopes, namespaces)
        if key is None:
            continue
        seen = first.get(key)
        if seen is None:
            first[key] = reg
        elif seen.record.urn != reg.record.urn:  # the same URN twice is `duplicate_urns`'s
            group, kind, namespace, name = key[1:]
            problems.append(f"Kubernetes object {group or 'core'}/{kind} {namespace + '/' if namespace else ''}{name} "
                            f"is registered twice on one cluster: {seen.describe()} {seen.record.urn} and "
                            f"{reg.describe()} {reg.record.urn} (the second create fails with AlreadyExists)")
    return problems


def duplicate_helm_releases(registrations: Sequence[Registration]) -> list[str]:
    """Two Helm releases named alike (`name`, not autonamed) in one namespace on one provider. A release without
    `namespace` is installed in its provider's default namespace (pulumi-kubernetes helm_release.go `setDefaults`
    takes the provider's `defaultNamespace`, as `kube_identity` models it); when that is not known at plan time, it
    is only the same namespace as another unnamespaced release's on that provider."""
    first: dict[tuple[str, str, str], Registration] = {}
    problems = []
    namespaces = provider_namespaces(r.record for r in registrations if r.provider)
    for reg in registrations:
        record = reg.record
        if record.type != RELEASE:
            continue
        provider = str((record.options or {}).get("provider") or "")  # the provider's URN (none: the default one)
        name, namespace = record.inputs.get("name"), record.inputs.get("namespace")
        if namespace is None or namespace == "":
            namespace = namespaces.get(provider, PROVIDER_NAMESPACE)
        if not isinstance(name, str) or not name or name in (UNKNOWN, SECRET) or not isinstance(namespace, str) \
                or namespace in (UNKNOWN, SECRET):
            continue  # an autonamed release gets a random suffix; an unknown name or namespace has no identity yet
        seen = first.setdefault((provider, namespace, name), reg)
        if seen is not reg and seen.record.urn != record.urn:
            problems.append(f"Helm release {namespace}/{name} is installed twice on one cluster: {seen.describe()} "
                            f"{seen.record.urn} and {reg.describe()} {record.urn} (Helm refuses the second install: "
                            "\"cannot re-use a name that is still in use\"); give each release a name of its own")
    return problems


def helm_ownership_conflicts(records: Sequence[ResourceRecord]) -> list[str]:
    """Objects a rendered Helm release shares with another release or a Pulumi resource on one cluster (the
    inventory after `render_inventory`): Helm's ownership check refuses the later install."""
    scopes, namespaces = _crd_scopes(records), provider_namespaces(records)
    first: dict[tuple[str, str, str, str, str], tuple[str, bool]] = {}
    problems = []
    for record in records:
        key = _kubernetes_object(record, scopes, namespaces)
        if key is None:
            continue
        rendered = (record.options or {}).get("rendered") or {}
        helm = str(rendered.get("by", "")).startswith("helm:")
        owner = str(rendered.get("release")) if helm else record.urn  # a release's objects are the release's
        seen = first.setdefault(key, (owner, helm))
        if seen[0] == owner or not (helm or seen[1]):  # its own object, or two resources (duplicate_kubernetes_objects)
            continue
        group, kind, namespace, name = key[1:]
        what = "Helm release" if seen[1] else "resource"
        problems.append(f"Kubernetes object {group or 'core'}/{kind} {namespace + '/' if namespace else ''}{name} is "
                        f"created by {what} {seen[0]} and by {'Helm release' if helm else 'resource'} {owner} on one "
                        f"cluster: Helm refuses the later install (`{kind} \"{name}\" in namespace \"{namespace}\" "
                        "exists and cannot be imported into the current release: invalid ownership metadata`); give "
                        "each release its own names (a release name, `fullnameOverride`) or install the chart once")
    return problems


def _crd_scopes(items: Sequence[Registration] | Sequence[ResourceRecord]) -> dict[tuple[str, str], str]:
    """(API group, kind) -> scope (`Namespaced`, `Cluster`) of each CustomResourceDefinition the program registers
    (or a release renders)."""
    found: dict[tuple[str, str], str] = {}
    for item in items:
        record = item.record if isinstance(item, Registration) else item
        spec = record.inputs.get("spec") if record.type == CRD else None
        if isinstance(spec, dict) and isinstance(spec.get("names"), dict):
            found[(str(spec.get("group")), str(spec["names"].get("kind")))] = str(spec.get("scope"))
    return found




def _kubernetes_object(record: ResourceRecord, scopes: dict[tuple[str, str], str],
                       namespaces: dict[str, str]) -> tuple[str, str, str, str, str] | None:
    """(provider, API group, kind, namespace, name) of a Kubernetes object the program creates, when its name is
    known: namespace "" for a cluster-scoped kind, the provider's default namespace (`namespaces`, else
    `PROVIDER_NAMESPACE`) when a namespaced one names none, as written for a kind of unknown scope; None for
    anything else (components, Helm releases, patches, reads)."""
    if not (record.custom and record.type.startswith("kubernetes:")) or (record.options or {}).get("read"):
        return None
    _, module, kind = record.type.split(":", 2)
    if kind.endswith("Patch") or "/" not in module:
        return None
    metadata = record.inputs.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name or name in (UNKNOWN, SECRET):
        return None
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    provider = str((record.options or {}).get("provider") or "")  # the provider's URN (none: the default one)
    group = module.rsplit("/", 1)[0]
    group = "" if group == "core" else group
    scoped = cluster_scoped(group, kind, scopes)
    if scoped:
        namespace = ""
    elif namespace is None or namespace == "":
        namespace = "" if scoped is None else namespaces.get(provider, PROVIDER_NAMESPACE)
    elif not isinstance(namespace, str) or namespace in (UNKNOWN, SECRET):  # not known at plan time: no identity
        return None
    return provider, group, kind, namespace, name


def strict_problems(registrations: Sequence[Registration]) -> list[str]:
    records = [r.record for r in registrations]
    return [*duplicate_urns(registrations), *orphaned_parents(records), *ambient_kubernetes(records),
            *duplicate_kubernetes_objects(registrations), *duplicate_helm_releases(registrations)]
