"""Issue 29: the feature store and the model registry became engine components (`mlops:features:FeastFeatureStore`,
`mlops:registry:MlflowRegistry`, ...) and their children's type tokens moved to `mlops:features:*` /
`mlops:registry:*`. A URN carries its parent's whole type chain, so every resource under them got a new URN; each
keeps its state through `pulumi.Alias(type_=<old token>)` on the renamed component and the alias its children
inherit from their parent (the engine's `generateAliases`, mlops_infra/plan/urns.py; checked against pulumi/pulumi
pkg/resource/deploy/step_generator.go `generateAliases`/`inheritedChildAlias` at 1b5949891b: the collapsed aliases,
then the parent's matched alias applied to the child's own type and to each of its aliases' types and names).

The proof resolves the planned stacks' aliases against the URNs the stacks had just before issue 29
(tests/data/urns-<stack>-pre29.txt: main's snapshots for dev and prod, and staging planned at the same commit,
6bdba72): every one of them must still be answered, none claimed twice, none by an alias that names a planned
resource. The release proof (test_urns.py, against f30aa41) runs on the same resolver.
"""

from __future__ import annotations

import dataclasses

import pytest

from mlops_infra.plan.urns import resolve_aliases
from tests.conftest import ROOT, planned

DATA = ROOT / "tests" / "data"
RENAMED = ("mlops:feature_store:FeatureStore", "mlops:model_registry:ModelRegistry", "mlops:mlflow_server:MlflowServer",
           "mlops:mlflow_database:MlflowDatabase", "mlops:feature_store_online:DynamoDbOnlineStore",
           "mlops:feature_server:FeatureServer", "mlops:feature_store_materialization:Materialization",
           "mlops:feature_store_bootstrap:RegistryBootstrap")


def _before(stack: str) -> set[str]:
    return set((DATA / f"urns-{stack}-pre29.txt").read_text().split())


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_urn_before_the_engine_split_is_planned_or_aliased(stack: str) -> None:
    before = _before(stack)
    moved = {u for u in before if any(f"{t}$" in u or f"{t}::" in u for t in RENAMED)}
    assert len(moved) > 20, "the snapshot holds resources under the renamed types"
    records = planned(stack).resources
    assert not ({r.urn for r in records} & moved), "renamed types are no longer planned"
    resolution = resolve_aliases(records, before)
    assert sorted(before - resolution.answered()) == [], "neither planned nor aliased"
    assert resolution.problems == []


@pytest.mark.parametrize(("new", "old"), [("mlops:features:FeastFeatureStore", "mlops:feature_store:FeatureStore"),
                                         ("mlops:features:FeatureServer", "mlops:feature_server:FeatureServer"),
                                         ("mlops:registry:MlflowRegistry", "mlops:model_registry:ModelRegistry")])
def test_the_proof_fails_without_the_type_alias(new: str, old: str) -> None:
    """Drop one renamed component's `Alias(type_=old)`: it, and every child that inherits the alias, lose their
    state (the children's own aliases name only their own old type)."""
    records, before = planned("prod").resources, _before("prod")
    [component] = [r for r in records if r.type == new]
    assert component.options["aliases"], "the component carries its alias"
    stripped = [dataclasses.replace(r, options={**r.options, "aliases": []}) if r is component else r for r in records]
    lost = before - resolve_aliases(stripped, before).answered()
    assert [u for u in lost if u.endswith(f"{old}::{component.name}")], "its own old URN is lost"
    assert lost and all(f"{old}$" in u or f"{old}::" in u for u in lost)
