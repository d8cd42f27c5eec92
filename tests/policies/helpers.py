"""Build small inventories by hand and run one policy over them through the packs' own validate functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mlops_policies.runner import Report, evaluate

TODAY = date(2026, 11, 15)


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::demo::{type_}::{name}"


@dataclass
class R:
    """A resource record: type, name, inputs, and which inputs came from which other resources (by name)."""

    type: str
    name: str
    inputs: dict[str, Any]
    deps: dict[str, list[str]] = field(default_factory=dict)
    provider: str | None = None
    parent: str | None = None
    """The name of the resource this one is a child of (e.g. the release an object was rendered from)."""
    literals: list[str] = field(default_factory=list)
    """JSON pointers of secret inputs the program wrote as literals (the plan's `plainSecretInputs`)."""


def inventory(resources: Sequence[R]) -> dict[str, Any]:
    by_name = {r.name: r for r in resources}
    records = []
    for r in resources:
        prop_deps = {k: [urn(by_name[n].type, n) for n in names] for k, names in r.deps.items()}
        records.append({
            "urn": urn(r.type, r.name), "type": r.type, "name": r.name, "custom": True,
            "parent": urn(by_name[r.parent].type, r.parent) if r.parent else None,
            "id": f"{r.name}-id", "inputs": r.inputs,
            "options": {"protect": False, "ignoreChanges": [], "aliases": [], "dependsOn": [],
                        "provider": urn(by_name[r.provider].type, r.provider) if r.provider else None},
            "dependencies": sorted({u for v in prop_deps.values() for u in v}), "propertyDependencies": prop_deps,
            "plainSecretInputs": list(r.literals),
        })
    return {"schemaVersion": 1, "project": "demo", "stack": "test", "resources": records, "outputs": {}}


def run(policy: str, resources: Sequence[R], *, env: str = "prod", config: Mapping[str, Any] | None = None,
        today: date = TODAY) -> Report:
    return evaluate(inventory(resources), environment=env, policy_config={policy: dict(config)} if config else None,
                    only=[policy], today=today)


def messages(policy: str, resources: Sequence[R] | R, **kwargs: Any) -> list[str]:
    """Messages of `policy`'s violations, in order, as `name: message`."""
    items = [resources] if isinstance(resources, R) else list(resources)
    return [f"{f.name}: {f.message}" for f in run(policy, items, **kwargs).findings]
