"""Unpriced lines and budget breaches are findings of two policies, so a waiver for one never waives the other.

Both attach to a resource: an unpriced line to the resource it prices, a budget breach to the costliest resource.
When those are the same resource, a waiver matched by policy id and resource name must still tell them apart.
The budget prices its own estimate: with a cap set, an unpriced line (waived or not) makes the budget unknown, and a
waiver under the budget is refused (a budget changes by its cap).
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
    # the budget: unknown (its own estimate has the unpriced line) and over the cap by the priced part alone
    assert found == [(BUDGET_POLICY, "db", "mandatory")] * 2 + [(UNPRICED_POLICY, "db", "mandatory")]
    assert report.exit_code == 1


def test_waiving_the_unpriced_line_leaves_the_budget_breach_mandatory() -> None:
    report = _run({BUDGET_POLICY: {"idleMonthlyUsd": 100}, UNPRICED_POLICY: {"waivers": [WAIVER]}})
    assert [(w.policy, w.resource.name) for w in report.waived] == [(UNPRICED_POLICY, "db")]
    assert [(f.policy, f.name, f.enforcement) for f in report.findings] == [(BUDGET_POLICY, "db", "mandatory")] * 2
    messages = sorted(f.message for f in report.findings)
    assert messages[0].startswith("budget unknown: 1 line(s) not priced (db: ")
    assert "over the budget of $100.00" in messages[1] and "(a lower bound)" in messages[1]
    assert report.exit_code == 1


def test_a_waived_unpriced_line_under_a_cap_leaves_the_budget_unknown() -> None:
    """The priced part is under the cap; the unpriced line, waived under mlops-cost-unpriced, is not $0 to the budget."""
    report = _run({BUDGET_POLICY: {"idleMonthlyUsd": 10_000, "maxMonthlyUsd": 10_000},
                   UNPRICED_POLICY: {"waivers": [WAIVER]}})
    assert [(f.policy, f.name, f.enforcement) for f in report.findings] == [(BUDGET_POLICY, "db", "mandatory")]
    assert report.findings[0].message.startswith("budget unknown: 1 line(s) not priced")
    assert "drop the cap" in report.findings[0].message and report.exit_code == 1


def test_the_budget_prices_its_own_estimate_whatever_the_unpriced_policy_is_told() -> None:
    """The pack path has no refusal of differing regions: the budget's own estimate decides. Here the unpriced policy
    prices us-east-1 (where a g5.48xlarge group is priced) and the budget eu-west-1 (where it is not)."""
    group = R("aws:eks/nodeGroup:NodeGroup", "gpu", {
        "instanceTypes": ["g5.48xlarge"], "capacityType": "ON_DEMAND", "diskSize": 100, "diskType": "gp3",
        "scalingConfig": {"minSize": 0, "maxSize": 8, "desiredSize": 0}, "tags": TAGS})
    report = evaluate(inventory([group]), environment="prod", today=TODAY, only=[BUDGET_POLICY, UNPRICED_POLICY],
                      policy_config={BUDGET_POLICY: {"region": "eu-west-1", "maxMonthlyUsd": 50_000},
                                     UNPRICED_POLICY: {"region": "us-east-1"}})
    budget = [f.message for f in report.findings if f.policy == BUDGET_POLICY]
    assert len(budget) == 1 and budget[0].startswith("budget unknown: ") and "gpu" in budget[0]
    assert report.exit_code == 1


def test_a_waiver_under_the_budget_is_refused_by_check(tmp_path: Any) -> None:
    with pytest.raises(PolicyConfigError, match=r"waivers are refused.*maxMonthlyUsd"):
        _run({BUDGET_POLICY: {"idleMonthlyUsd": 100, "waivers": [WAIVER]}})
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({BUDGET_POLICY: {"idleMonthlyUsd": 100, "waivers": [WAIVER]}}))
    with pytest.raises(PolicyConfigError, match="mlops-cost-budget: waivers are refused"):
        load_policy_config(path)


def test_the_pack_ignores_a_budget_waiver_loudly() -> None:
    """Under the engine there is no config file to refuse: the validate reports the waivers and applies none."""
    from mlops_policies.adapter import stack_validate
    from mlops_policies.core import StackRule
    from mlops_policies.packs import policy_index
    from mlops_policies.runner import _Resources

    seen: list[tuple[str, Any]] = []
    config = {"environment": "prod", "idleMonthlyUsd": 100, "waivers": [WAIVER]}
    rule = policy_index()[BUDGET_POLICY]
    assert isinstance(rule, StackRule)
    args = _Resources(inventory(STACK)["resources"]).stack_args(config)
    stack_validate(rule)(args, lambda m, u=None: seen.append((m, u)))
    assert any("waivers are refused" in m and "they are ignored" in m for m, _ in seen)
    assert any("over the budget of $100.00" in m for m, _ in seen)  # the breach on db is reported, not waived


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


def test_check_refuses_policy_config_assumptions_outside_the_stacks_ranges(tmp_path: Any, capsys: Any) -> None:
    # A negative spotPriceRatio in the policy config made spot pools cost less than nothing (review R11COST).
    from mlops_infra.cli.main import main as cli
    from tests.conftest import ROOT
    config = json.loads((ROOT / "policies" / "config" / "dev.json").read_text())
    for policy in ("mlops-cost-budget", "mlops-cost-unpriced"):
        config.setdefault(policy, {})["assumptions"] = {"spotPriceRatio": -100}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(config))
    code = cli(["check", "--program", str(ROOT), "--stack", "dev", "--pack", "mlops-cost", "--no-render",
                "--policy-config", str(path), "--quiet"])
    assert code == 2 and "cost assumptions out of range: spotPriceRatio=-100" in capsys.readouterr().err
