"""The addresses a planned resource answers to: its URN and its aliases, resolved the way the Pulumi engine does.

The mock engine only records aliases (mlops_infra/plan/monitor.py: an alias spec, or a URN); the real engine
resolves them when it matches the state: a spec fills in the resource's own name, type and parent where it leaves
them out, and a child inherits one alias for each of its parent's (under the parent's old URN, its name re-prefixed
with the parent's old name when it started with the parent's name: pulumi/pulumi pkg/resource/deploy
step_generator.go `generateAliases` / `inheritedChildAlias`). URNs are built like the mock's (`MockMonitor.make_urn`:
the parent's last type, then the resource's type), so they compare with the snapshots in tests/data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops_infra.plan import ResourceRecord


def make_urn(prefix: str, parent: str | None, type_: str, name: str) -> str:
    """`MockMonitor.make_urn`: `prefix` is `urn:pulumi:<stack>::<project>`."""
    if parent:
        type_ = parent.split("::")[2].split("$")[-1] + "$" + type_
    return f"{prefix}::{type_}::{name}"


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[1]


def aliases(records: Iterable[ResourceRecord]) -> dict[str, set[str]]:
    """Planned URN -> the old URNs it answers to (not itself)."""
    by_urn = {r.urn: r for r in records}
    resolved: dict[str, set[str]] = {}

    def of(record: ResourceRecord) -> set[str]:
        if record.urn in resolved:
            return resolved[record.urn]
        prefix = "::".join(record.urn.split("::")[:2])
        stack = f"{prefix}::pulumi:pulumi:Stack::stack"
        parent = record.parent or stack
        found: set[str] = set()
        for alias in record.options.get("aliases") or []:
            found.add(alias if isinstance(alias, str) else _from_spec(prefix, record, parent, alias))
        parent_record = by_urn.get(record.parent) if record.parent else None
        if parent_record is not None:
            for old_parent in of(parent_record):
                name = record.name
                if name.startswith(parent_record.name):
                    name = _name(old_parent) + name[len(parent_record.name):]
                found.add(make_urn(prefix, old_parent, record.type, name))
        found.discard(record.urn)
        resolved[record.urn] = found
        return found

    for record in by_urn.values():
        of(record)
    return resolved


def _from_spec(prefix: str, record: ResourceRecord, parent: str, spec: dict[str, Any]) -> str:
    if spec.get("noParent"):
        parent = ""
    elif spec.get("parentUrn"):
        parent = spec["parentUrn"]
    return make_urn(prefix, parent, spec.get("type") or record.type, spec.get("name") or record.name)
