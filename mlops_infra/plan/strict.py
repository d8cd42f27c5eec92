"""What the real engine refuses and the mock engine would accept: checked over the recorded registrations.

- Duplicate URNs: `pulumi up` fails with "Duplicate resource URN"; the mock monitor answers both registrations.
- A resource whose parent is not a registered component: the engine cannot find the parent (or, for a custom
  parent, the program built a tree our components never build).
- A Kubernetes resource under one of our `mlops:` components without an explicit provider: under the engine it
  would bind to the default provider, i.e. the ambient kubeconfig, not the cluster the component was given.

Each problem is one line; the engine raises them together as a PlanError of kind "input" (exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .inventory import ResourceRecord

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


def strict_problems(registrations: Sequence[Registration]) -> list[str]:
    records = [r.record for r in registrations]
    return [*duplicate_urns(registrations), *orphaned_parents(records), *ambient_kubernetes(records)]
