"""URNs and aliases as the Pulumi engine computes them (pulumi/pulumi at the pinned SDK's engine).

- A URN is `urn:pulumi:<stack>::<project>::<qualified type>::<name>`. The qualified type of a child is its parent's
  *whole* qualified type, `$`, then its own type; a child of the root stack (or of nothing) has its own type only
  (`Deployment.generateURN` in pkg/resource/deploy/deployment.go calling `urn.New` in
  sdk/go/common/resource/urn/urn.go). The SDK's mock monitor keeps only the parent's last type; the plan engine's
  monitor answers with `engine_urn` instead, so the program, the inventory and the checks all see the engine's URNs.
- Aliases are resolved against the URNs of an earlier deployment like `stepGenerator.generateAliases` /
  `collapseAliasToUrn` / `inheritedChildAlias` / `getOldResource` (pkg/resource/deploy/step_generator.go): in
  registration order, a resource matches its own URN first, then each alias in order; a child of a parent that
  matched through an alias also gets the alias inherited from that one matched address (its name re-prefixed when it
  started with the parent's name); an alias spec naming a parent that matched through an alias uses that old URN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def qualified_type(urn: str) -> str:
    return urn.split("::")[2]


def urn_name(urn: str) -> str:
    return urn.split("::", 3)[3]


def urn_prefix(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>`."""
    return "::".join(urn.split("::")[:2])


def engine_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """`Deployment.generateURN`: the parent's whole qualified type, unless the parent is empty or the root stack."""
    parent_type = qualified_type(parent) if parent else ""
    typ = f"{parent_type}${type_}" if parent_type and parent_type != ROOT_STACK_TYPE else type_
    return f"urn:pulumi:{stack}::{project}::{typ}::{name}"


def create_urn(prefix: str, parent: str, type_: str, name: str) -> str:
    """`resource.CreateURN` (sdk/go/common/resource/alias.go): an alias under `parent` (a URN) or under nothing."""
    if not parent:
        return f"{prefix}::{type_}::{name}"
    return f"{parent.rsplit('::', 1)[0]}${type_}::{name}"


class AliasedRecord(Protocol):
    """What alias resolution reads of a planned resource (a `ResourceRecord` has it)."""

    urn: str
    type: str
    name: str
    parent: str | None
    options: dict[str, Any]


@dataclass
class AliasResolution:
    """The outcome of matching planned resources against an earlier deployment's URNs."""

    matched: dict[str, str] = field(default_factory=dict)
    """Planned URN -> the old URN it took over (its own URN when that was already in the old state)."""
    problems: list[str] = field(default_factory=list)
    """What the engine refuses: two resources claiming one old URN, or an alias naming a planned resource."""

    def answered(self) -> set[str]:
        return set(self.matched.values())


def _collapse(prefix: str, record: AliasedRecord, alias: Any, old_of: Mapping[str, str]) -> str:
    """`collapseAliasToUrn`: a URN alias as is; a spec fills in the resource's own name, type and parent."""
    if isinstance(alias, str):
        return alias
    name = alias.get("name") or record.name
    type_ = alias.get("type") or record.type
    given = alias.get("parentUrn") or ""
    # No parent given: the resource's own parent. A given parent that matched through an alias: its old URN.
    parent = old_of.get(given, given) if given else record.parent or ""
    if alias.get("noParent") or (parent and qualified_type(parent) == ROOT_STACK_TYPE):
        parent = ""
    stack = alias.get("stack") or prefix.split("::")[0].removeprefix("urn:pulumi:")
    project = alias.get("project") or prefix.split("::")[1]
    return create_urn(f"urn:pulumi:{stack}::{project}", parent, type_, name)


def _inherited(prefix: str, child_type: str, child_name: str, parent_name: str, parent_alias: str) -> str:
    """`inheritedChildAlias`: the child under its parent's old URN, re-prefixed when named after the parent."""
    name = child_name
    if child_name.startswith(parent_name):
        name = urn_name(parent_alias) + child_name[len(parent_name):]
    parent_type = qualified_type(parent_alias)
    typ = f"{parent_type}${child_type}" if parent_type and parent_type != ROOT_STACK_TYPE else child_type
    return f"{prefix}::{typ}::{name}"


def generate_aliases(record: AliasedRecord, old_of: Mapping[str, str]) -> list[str]:
    """`generateAliases`: the resource's own aliases, then those inherited from the alias its parent matched."""
    prefix = urn_prefix(record.urn)
    result: list[str] = []
    specs: Sequence[Any] = record.options.get("aliases") or []
    collapsed = [_collapse(prefix, record, alias, old_of) for alias in specs]
    for urn in collapsed:
        if urn not in result:
            result.append(urn)
    parent = record.parent or ""
    parent_alias = old_of.get(parent) if parent else None
    if parent_alias is not None:
        parent_name = urn_name(parent)
        inherited = [_inherited(prefix, record.type, record.name, parent_name, parent_alias)]
        inherited += [_inherited(prefix, qualified_type(c).rsplit("$", 1)[-1], urn_name(c), parent_name, parent_alias)
                      for c in collapsed]
        for urn in inherited:
            if urn not in result:
                result.append(urn)
    return result


def registration_order(records: Iterable[AliasedRecord]) -> list[AliasedRecord]:
    """Parents (and alias parents) before children, as the SDK registers them; ties keep the given order."""
    by_urn = {r.urn: r for r in records}
    done: set[str] = set()
    order: list[AliasedRecord] = []

    def visit(record: AliasedRecord, path: set[str]) -> None:
        if record.urn in done or record.urn in path:
            return
        path.add(record.urn)
        needs = [record.parent or ""] + [a.get("parentUrn", "") for a in record.options.get("aliases") or []
                                         if isinstance(a, dict)]
        for urn in needs:
            if urn in by_urn:
                visit(by_urn[urn], path)
        done.add(record.urn)
        order.append(record)

    for record in by_urn.values():
        visit(record, set())
    return order


def resolve_aliases(records: Iterable[AliasedRecord], old_urns: Iterable[str]) -> AliasResolution:
    """`getOldResource` for every planned resource against `old_urns` (an earlier deployment's URNs)."""
    olds = set(old_urns)
    ordered = registration_order(records)
    planned = {r.urn for r in ordered}
    result = AliasResolution()
    old_of: dict[str, str] = {}  # sg.aliases: planned URN -> the old URN it matched through an alias
    claimed: dict[str, str] = {}  # sg.aliased: old URN -> the planned URN that claimed it
    for record in ordered:
        for candidate in [record.urn, *generate_aliases(record, old_of)]:
            if candidate not in olds:
                continue
            if candidate != record.urn:
                if candidate in planned:
                    result.problems.append(f"{record.urn}: alias {candidate} is the URN of another planned resource")
                if candidate in claimed:
                    result.problems.append(f"{record.urn}: alias {candidate} was already claimed by "
                                           f"{claimed[candidate]}")
                claimed[candidate] = record.urn
                old_of[record.urn] = candidate
            result.matched[record.urn] = candidate
            break
    return result
