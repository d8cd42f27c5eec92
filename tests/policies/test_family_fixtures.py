"""Issue 30: the relation families judged on plain Pulumi programs written by someone who did not read the
evaluators (tests/programs/families/<family>_<shape>/, see its README).

Each fixture is planned twice, as `check` plans it (Helm releases rendered): stack `good` and stack `bad`, which
set `fixture:variant`. The good twin must draw no finding from any family's policy nor any other policy of the
invariants pack (the relation-specific ones: a good twin is correct as a whole, not only in its own family's relation;
`mlops-inv-shared-cluster-assumptions` is left out: it lists, as advice, what a stack that deploys onto a cluster it
does not own assumes that cluster provides, and the selector fixtures are such stacks); the bad twin, which breaks
exactly one relation, must draw a finding from a policy of its own family that names both ends of that relation
(`bad_ends` in expect.json). The family -> policy ids map is `mlops_policies.families.POLICIES_BY_FAMILY`."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_policies.families import POLICIES_BY_FAMILY
from mlops_policies.packs import all_rules
from mlops_policies.runner import Finding, evaluate

from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

FAMILIES = ("selector", "placement", "kms-users", "identity", "service-reach", "ordering", "volume-zone", "ip-capacity",
            "probe-port")
FIXTURES = sorted(p for p in (PROGRAMS / "families").iterdir() if (p / "expect.json").is_file())
ALL_FAMILY_POLICIES = sorted({p for ids in POLICIES_BY_FAMILY.values() for p in ids})
# Advice by design, not a broken relation: shared-cluster assumptions, and a custom resource whose CRD only the
# chart store has (what this machine's store holds decides it: CI's store is empty).
ADVICE_ONLY = {"mlops-inv-shared-cluster-assumptions", "mlops-k8s-crd-no-schema"}
GOOD_TWIN_POLICIES = sorted(({rule.meta.name for rule in all_rules() if rule.meta.pack == "mlops-invariants"}
                             | set(ALL_FAMILY_POLICIES)) - ADVICE_ONLY)


def expect(fixture: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((fixture / "expect.json").read_text(encoding="utf-8"))
    return data


def names(end: str, text: str) -> bool:
    """`text` names `end` as a whole name: `orders` is not named by `orders-api`."""
    return re.search(rf"(?<![\w-]){re.escape(end)}(?![\w-])", text) is not None


def findings(fixture: Path, variant: str, policies: list[str]) -> list[Finding]:
    plan = planned(variant, fixture, render=True).to_json()
    return list(evaluate(plan, environment="prod", only=policies).findings)


def test_every_family_has_fixtures_in_three_shapes_and_registered_policies() -> None:
    assert FIXTURES
    shapes: dict[str, set[str]] = defaultdict(set)
    for fixture in FIXTURES:
        shapes[expect(fixture)["family"]].add(expect(fixture)["shape"])
    assert sorted(shapes) == sorted(FAMILIES)
    assert {family: len(s) for family, s in shapes.items() if len(s) < 3} == {}
    assert sorted(POLICIES_BY_FAMILY) == sorted(FAMILIES)
    registered = {rule.meta.name for rule in all_rules()}
    assert ALL_FAMILY_POLICIES
    for family in each(FAMILIES):
        assert POLICIES_BY_FAMILY[family], family
        assert set(POLICIES_BY_FAMILY[family]) <= registered, family


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_the_fixture_is_well_formed(fixture: Path) -> None:
    data = expect(fixture)
    assert set(data) == {"family", "shape", "source", "bad_ends"}
    assert data["family"] in FAMILIES and fixture.name.startswith(f"{data['family']}_")
    assert data["source"].startswith("https://")
    assert len(data["bad_ends"]) == 2 and all(isinstance(e, str) and e for e in data["bad_ends"])
    for variant in ("good", "bad"):
        stack = yaml.safe_load((fixture / f"Pulumi.{variant}.yaml").read_text(encoding="utf-8"))
        assert stack["config"]["fixture:variant"] == variant


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_the_good_twin_draws_no_invariant_finding(fixture: Path) -> None:
    assert len(GOOD_TWIN_POLICIES) > len(ALL_FAMILY_POLICIES)
    found = findings(fixture, "good", GOOD_TWIN_POLICIES)
    assert [f"{f.policy} {f.name}: {f.message}" for f in found] == []


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_the_bad_twin_draws_a_finding_of_its_family_naming_both_ends(fixture: Path) -> None:
    data = expect(fixture)
    found = findings(fixture, "bad", list(POLICIES_BY_FAMILY[data["family"]]))
    texts = [f"{f.name}: {f.message}" for f in found]
    assert any(all(names(end, text) for end in each(data["bad_ends"])) for text in texts), (data["bad_ends"], texts)
