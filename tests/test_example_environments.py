"""Every example on the staging and prod platforms too (review of issue 29, second round): test_examples and
test_example_collisions plan the examples on the dev platform's outputs only, where few namespaces are taken, no
bucket name is limited and few add-ons run. On each other environment's planned outputs an example either is
refused at plan time, by a message naming the platform output that refuses it, or plans and installs nothing the
platform has on its cluster (its rendered plan compared with that platform's)."""

from __future__ import annotations

import copy
import re

import pytest

from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.plan.render import render_inventory
from tests.conftest import EXAMPLES, planned
from tests.platform.test_standalone import PLATFORM_STACK
from tests.test_example_collisions import OWN_CLUSTER, _scopes, footprint
from tests.test_examples import NOT_DEV, cases

ENVIRONMENTS = ("staging", "prod")
# The dev-platform cases (a NOT_DEV stack models a platform unlike any environment's) on the platform's cluster.
CASES = [c for c in cases() if c not in NOT_DEV and c[0] not in OWN_CLUSTER]
_OUTCOMES: dict[tuple[str, str, str], Inventory | PlanError] = {}


def outcome(example: str, stack: str, environment: str) -> Inventory | PlanError:
    """The example planned (charts rendered) on `environment`'s platform outputs, or the plan's refusal."""
    key = (example, stack, environment)
    if key not in _OUTCOMES:
        try:
            inv = plan_program(EXAMPLES / example, stack, stack_refs={PLATFORM_STACK: planned(environment).outputs})
        except PlanError as refused:
            _OUTCOMES[key] = refused
        else:
            inv = copy.copy(inv)
            inv.resources = list(inv.resources)
            render_inventory(inv, base=EXAMPLES / example)
            _OUTCOMES[key] = inv
    return _OUTCOMES[key]


def named_outputs(message: str, environment: str) -> list[str]:
    """The platform outputs a refusal names: as `name` or 'name', or a camelCase name as a word (`kserve` in
    clusterAddOns); a one-word name (`environment`) only quoted, as English uses it too."""
    outputs = planned(environment).outputs
    return [k for k in outputs if re.search(rf"[`']{re.escape(k)}[`']", message)
            or (k != k.lower() and re.search(rf"\b{re.escape(k)}\b", message))]


def test_there_are_examples_on_the_platforms_cluster() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(("example", "stack"), CASES)
def test_an_example_on_another_environments_platform_is_refused_by_a_fact_or_collides_with_nothing(
        example: str, stack: str, environment: str) -> None:
    found = outcome(example, stack, environment)
    if isinstance(found, PlanError):
        assert named_outputs(str(found), environment), str(found)
        return
    platform = planned(environment, render=True)
    scopes = _scopes(found, platform)
    mine, theirs = footprint(found, scopes), footprint(platform, scopes)
    assert theirs  # (mine is empty for an example with no Kubernetes object: AWS only)
    assert {key: mine[key] for key in sorted(set(mine) & set(theirs))} == {}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_facts_refuse_some_examples_and_admit_others(environment: str) -> None:
    """Both branches above are taken: prod admits no consumer bucket (`consumerBucketPrefixes: []`), so an example
    that makes one is refused there; an example that makes none plans."""
    outcomes = {case: outcome(*case, environment) for case in CASES}
    assert any(isinstance(o, PlanError) for o in outcomes.values())
    planned_ = [o for o in outcomes.values() if not isinstance(o, PlanError)]
    assert any(footprint(o, _scopes(o)) for o in planned_)  # one that plans puts objects on the cluster
