"""The resource addresses (URNs) of the real stacks are pinned, so moving code between modules cannot rename a resource.

A changed URN makes `pulumi up` delete the old resource and create a new one (a new database, a new bucket). Type
tokens (`mlops:<module>:<Type>`) and child names are part of the URN; the files that define them are not. The
snapshots in tests/data/urns-<stack>.txt were taken from the code before it moved into concern packages; the test
compares for equality, so a resource that appears or disappears fails it too.

A resource that moves (a new parent, name or type) keeps its state through a Pulumi alias: the second test resolves
the aliases like the engine (tests/platform/urn_aliases.py) and proves every URN of the last release
(tests/data/urns-<stack>-released.txt, taken before the monitoring contributions of #17 moved rules, dashboards and
alarms into their owners) is still answered.

A change that adds or renames resources on purpose regenerates the snapshot, reviewed in the diff:
    mlops-infra plan --stack prod --format json | python -c "import json,sys; print('\\n'.join(sorted(
        r['urn'] for r in json.load(sys.stdin)['resources'])))" > tests/data/urns-prod.txt
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import ROOT, planned
from tests.platform.urn_aliases import aliases

DATA = ROOT / "tests" / "data"


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_urns_equal_the_committed_snapshot(stack: str) -> None:
    expected = set((DATA / f"urns-{stack}.txt").read_text().split())
    actual = {r.urn for r in planned(stack)}
    assert expected, "empty snapshot"
    assert sorted(actual - expected) == [] and sorted(expected - actual) == [], (
        f"new: {sorted(actual - expected)}\ngone: {sorted(expected - actual)}"
    )


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_every_snapshot_urn_is_planned_or_an_alias_of_a_planned_resource(stack: str) -> None:
    """A resource that moved (a new parent or name: the monitoring contributions of #17) keeps its state only
    through an alias. Resources added since the snapshot are allowed here; none of the old ones may be lost."""
    expected = set((DATA / f"urns-{stack}-released.txt").read_text().split())
    records = planned(stack).resources
    old_addresses = aliases(records)
    answered = {r.urn for r in records} | {a for found in old_addresses.values() for a in found}
    assert sorted(expected - answered) == [], "missing: neither planned nor aliased"


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_no_two_resources_claim_the_same_old_address(stack: str) -> None:
    """The engine refuses a plan where two resources alias the same URN, or an alias names a planned resource."""
    records = planned(stack).resources
    claims: dict[str, list[str]] = {}
    for urn, found in aliases(records).items():
        for old in found:
            claims.setdefault(old, []).append(urn)
    planned_urns = {r.urn for r in records}
    assert {old: urns for old, urns in claims.items() if len(urns) > 1} == {}
    assert sorted(set(claims) & planned_urns) == []


def test_the_alias_check_sees_a_moved_resource_without_its_alias() -> None:
    """Drop the aliases of the moved GPU rule: its old address is no longer answered."""
    records = planned("prod").resources
    old = next(u for u in (DATA / "urns-prod-released.txt").read_text().split()
               if u.endswith("PrometheusRule::mlops-prod-monitoring-mlops-gpu"))
    [moved] = [r for r in records if old in aliases(records)[r.urn]]
    stripped = [dataclasses.replace(r, options={**r.options, "aliases": []}) if r is moved else r for r in records]
    assert old not in {a for found in aliases(stripped).values() for a in found}
