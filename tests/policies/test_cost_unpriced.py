"""Unpriced lines and budget breaches are findings of two policies, so a waiver for one never waives the other.

Both attach to a resource: an unpriced line to the resource it prices, a budget breach to the costliest resource.
When those are the same resource, a waiver matched by policy id and resource name must still tell them apart.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_policies.cost import BUDGET_POLICY, UNPRICED_POLICY
from mlops_policies.enforcement import PolicyConfigError
from mlops_policies.runner import evaluate, load_policy_config

from .helpers import TODAY, R, inventory
from .test_cost import TAGS

# A priced instance class (the stack's costliest resource) with a storage type the table has no rate for.
DB = R("aws:rds/instance:Instance", "db", {"engine": "postgres", "instanceClass": "db.m7g.large",
                                           "allocatedStorage": 20, "storageType": "gp2", "tags": TAGS})
STACK = [R("aws:ec2/natGateway:NatGateway", "nat", {}), DB]
WAIVER = {"resource": "db", "reason": "storage priced by hand", "expires": "2099-01-01"}


def _run(config: dict[str, Any]) -> Any:
    return evaluate(inventory(STACK), environment="prod", policy_config=config,
                    only=[BUDGET_POLICY, UNPRICED_POLICY], today=TODAY)


def test_the_unpriced_line_and_the_budget_breach_land_on_one_resource() -> None:
    report = _run({BUDGET_POLICY: {"idleMonthlyUsd": 100}})
    found = sorted((f.policy, f.name, f.enforcement) for f in report.findings)
    assert found == [(BUDGET_POLICY, "db", "mandatory"), (UNPRICED_POLICY, "db", "mandatory")]
    assert report.exit_code == 1


def test_waiving_the_unpriced_line_leaves_the_budget_breach_mandatory() -> None:
    report = _run({BUDGET_POLICY: {"idleMonthlyUsd": 100}, UNPRICED_POLICY: {"waivers": [WAIVER]}})
    assert [(w.policy, w.resource.name) for w in report.waived] == [(UNPRICED_POLICY, "db")]
    assert [(f.policy, f.name, f.enforcement) for f in report.findings] == [(BUDGET_POLICY, "db", "mandatory")]
    assert "over the budget of $100.00" in report.findings[0].message
    assert "1 line(s) not priced" in report.findings[0].message  # the breach says its total is a lower bound
    assert report.exit_code == 1


def test_waiving_the_budget_breach_leaves_the_unpriced_line_mandatory() -> None:
    report = _run({BUDGET_POLICY: {"idleMonthlyUsd": 100, "waivers": [WAIVER]}})
    assert [(w.policy, w.resource.name) for w in report.waived] == [(BUDGET_POLICY, "db")]
    assert [(f.policy, f.enforcement) for f in report.findings] == [(UNPRICED_POLICY, "mandatory")]
    assert report.findings[0].message.startswith("not priced: ") and "gp2" in report.findings[0].message


def test_unpriced_lines_are_mandatory_in_dev_without_a_budget() -> None:
    report = evaluate(inventory(STACK), environment="dev", policy_config={},
                      only=[BUDGET_POLICY, UNPRICED_POLICY], today=TODAY)
    assert [(f.policy, f.name, f.enforcement) for f in report.findings] == [(UNPRICED_POLICY, "db", "mandatory")]


def test_the_two_policies_price_one_estimate(tmp_path: Any) -> None:
    """Region and assumptions set for one and not the other would price two different estimates: refused."""
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({BUDGET_POLICY: {"region": "eu-west-1", "idleMonthlyUsd": 50}}))
    with pytest.raises(PolicyConfigError, match=f"{UNPRICED_POLICY}.*region"):
        load_policy_config(path)
    path.write_text(json.dumps({BUDGET_POLICY: {"region": "eu-west-1"}, UNPRICED_POLICY: {"region": "eu-west-1"}}))
    assert load_policy_config(path)[UNPRICED_POLICY] == {"region": "eu-west-1"}


def test_the_pack_gives_both_estimate_policies_the_stack_region_and_only_the_budget_its_ceilings() -> None:
    from mlops_policies.packs import engine_config

    platform = json.dumps({"environment": "prod", "region": "eu-west-1",
                           "budget": {"idleMonthlyUsd": 50, "assumptions": {"spotPriceRatio": 0.3}}})
    config = engine_config("mlops-cost", {"PULUMI_CONFIG": json.dumps({"mlops:platform": platform}),
                                          "PULUMI_STACK": "prod"})
    for name in (BUDGET_POLICY, UNPRICED_POLICY):
        assert config[name]["region"] == "eu-west-1" and config[name]["assumptions"] == {"spotPriceRatio": 0.3}
    assert config[BUDGET_POLICY]["idleMonthlyUsd"] == 50 and "idleMonthlyUsd" not in config[UNPRICED_POLICY]
