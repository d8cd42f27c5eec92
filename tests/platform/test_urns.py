"""The resource addresses (URNs) of the real stacks are pinned, so moving code between modules cannot rename a resource.

A changed URN makes `pulumi up` delete the old resource and create a new one (a new database, a new bucket). Type
tokens (`mlops:<module>:<Type>`) and child names are part of the URN; the files that define them are not. The
snapshots in tests/data/urns-<stack>.txt are in the engine's form (a child's type is its parent's whole qualified
type chain, `$`, its own type: mlops_infra/plan/urns.py); the test compares for equality, so a resource that
appears or disappears fails it too.

A resource that moves (a new parent, name or type) keeps its state through a Pulumi alias: the second test resolves
the aliases as the engine does (`mlops_infra.plan.urns.resolve_aliases`, from step_generator.go) against the URNs of
the last release (tests/data/urns-<stack>-released.txt, commit f30aa41, before the monitoring contributions of #17
moved rules, dashboards and alarms into their owners) and proves every one of them is still answered. That file was
carried into the engine's form from the release's own plan (tools/engine_form_urns.py says how), not rewritten by
pattern: the release's code, planned again, reproduced the old snapshot line for line first.

A change that adds or renames resources on purpose regenerates the snapshot, reviewed in the diff:
    mlops-infra plan --stack prod --format json | python -c "import json,sys; print('\\n'.join(sorted(
        r['urn'] for r in json.load(sys.stdin)['resources'] if not r['options'].get('rendered'))))" \\
        > tests/data/urns-prod.txt
(rendered chart objects are not Pulumi resources: they have no state to keep).
"""

from __future__ import annotations

import dataclasses

import pytest

from mlops_infra.plan.urns import qualified_type, resolve_aliases
from tests.conftest import ROOT, planned

DATA = ROOT / "tests" / "data"


def _released(stack: str) -> set[str]:
    return set((DATA / f"urns-{stack}-released.txt").read_text().split())


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_urns_equal_the_committed_snapshot(stack: str) -> None:
    expected = set((DATA / f"urns-{stack}.txt").read_text().split())
    actual = {r.urn for r in planned(stack)}
    assert expected, "empty snapshot"
    assert sorted(actual - expected) == [] and sorted(expected - actual) == [], (
        f"new: {sorted(actual - expected)}\ngone: {sorted(expected - actual)}"
    )


@pytest.mark.parametrize("name", ["prod", "dev", "prod-released", "dev-released"])
def test_snapshots_are_in_the_engines_form(name: str) -> None:
    """Every `$`-qualified type is the qualified type of another resource plus one type (its parent's chain), and
    no URN carries the root stack's type: the SDK mock's form (the parent's last type only) fails both."""
    urns = (DATA / f"urns-{name}.txt").read_text().split()
    types = {qualified_type(u) for u in urns}
    assert urns, "empty snapshot"
    orphans = sorted(u for u in urns if "$" in qualified_type(u) and qualified_type(u).rsplit("$", 1)[0] not in types)
    assert orphans == []
    assert [u for u in urns if "pulumi:pulumi:Stack" in u] == []


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_every_released_urn_is_planned_or_taken_over_through_an_alias(stack: str) -> None:
    """A resource that moved (a new parent or name: the monitoring contributions of #17) keeps its state only
    through an alias. Resources added since the release are allowed; none of the released ones may be lost, and the
    engine's refusals (two resources claiming one old URN, an alias naming a planned resource) must not occur."""
    released = _released(stack)
    resolution = resolve_aliases(planned(stack).resources, released)
    assert released, "empty snapshot"
    assert sorted(released - resolution.answered()) == [], "missing: neither planned nor aliased"
    assert resolution.problems == []


@pytest.mark.parametrize("stack", ["prod", "dev", "staging"])
def test_every_urn_before_the_type_tokens_changed_is_taken_over_through_an_alias(stack: str) -> None:
    """Type tokens now read `mlops:<concern>:<Type>` (#29): each retyped component aliases its released token, and
    its children, whose qualified types changed with it, are taken over through the alias the engine derives from
    their parent's match (`inheritedChildAlias`). tests/data/urns-<stack>-pre29.txt are the URNs planned just
    before the change (main at 6bdba72; prod and dev equal to the snapshots of then): every one must be answered."""
    before = set((DATA / f"urns-{stack}-pre29.txt").read_text().split())
    resolution = resolve_aliases(planned(stack).resources, before)
    assert before, "empty snapshot"
    assert sorted(before - resolution.answered()) == [], "missing: neither planned nor aliased"
    assert resolution.problems == []


def test_the_children_of_a_retyped_component_keep_their_state_only_through_the_parents_alias() -> None:
    """Drop the TrainingCluster's type alias: it, and every child (whose URNs carry its type), lose their old
    addresses; so the proof above rests on the parent's alias and the engine's inheritance, not on luck."""
    records = planned("prod").resources
    before = set((DATA / "urns-prod-pre29.txt").read_text().split())
    (cluster,) = [r for r in records if r.type == "mlops:compute:TrainingCluster"]
    # Its children of that release (the private API's ingress rules came later: new resources, nothing to keep).
    released_names = {urn.rsplit("::", 1)[-1] for urn in before}
    children = [r for r in records if r.parent == cluster.urn and r.name in released_names]
    assert {r.type for r in records if r.parent == cluster.urn and r.name not in released_names} <= {
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"}
    assert children and all(r.urn not in before for r in [cluster, *children])
    answered = resolve_aliases(records, before).matched
    assert all(r.urn in answered for r in [cluster, *children])
    stripped = [dataclasses.replace(r, options={**r.options, "aliases": []}) if r is cluster else r for r in records]
    lost = resolve_aliases(stripped, before).matched
    assert [r.urn for r in [cluster, *children] if r.urn in lost] == []


def test_the_alias_check_sees_a_moved_resource_without_its_alias() -> None:
    """Drop the aliases of the moved GPU rule: its released address is no longer answered."""
    records = planned("prod").resources
    released = _released("prod")
    old = next(u for u in released if u.endswith("PrometheusRule::mlops-prod-monitoring-mlops-gpu"))
    matched = resolve_aliases(records, released).matched
    [moved] = [r for r in records if matched.get(r.urn) == old and r.urn != old]
    stripped = [dataclasses.replace(r, options={**r.options, "aliases": []}) if r is moved else r for r in records]
    assert old not in resolve_aliases(stripped, released).answered()
