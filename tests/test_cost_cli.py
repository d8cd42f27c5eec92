"""`mlops-infra cost` on the example stacks: every format parses, the dev idle estimate is within dev's budget,
and the stack's `budget` reaches the cost policy through `check`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.cli.main import main

pytestmark = pytest.mark.slow  # the CLI in a subprocess: the slow tier (.ci/run)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dev_json() -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "mlops_infra.cli.main", "cost", "--stack", "dev", "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=180, check=True)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def test_dev_json_has_totals_components_lines_and_assumptions_with_what_they_drive(dev_json: dict[str, Any]) -> None:
    totals = dev_json["totals"]
    assert dev_json["region"] == "us-east-1" and dev_json["priceDate"]
    assert 0 < totals["idleMonthlyUsd"] < totals["maxMonthlyUsd"]
    # the per-component and per-line figures add up to the totals
    assert sum(c["idleMonthlyUsd"] for c in dev_json["components"]) == pytest.approx(totals["idleMonthlyUsd"], abs=0.1)
    assert sum(ln["maxMonthlyUsd"] or 0 for ln in dev_json["lines"]) == pytest.approx(totals["maxMonthlyUsd"], abs=0.1)
    nat = next(a for a in dev_json["assumptions"] if a["name"] == "natGbProcessedPerMonth")
    assert nat["value"] == 100 and [d["resource"] for d in nat["drives"]] == ["mlops-dev-net-nat-us-east-1a"]
    # the spot GPU pool is nothing idle and the largest line at max
    gpu = [ln for ln in dev_json["lines"] if ln["resource"] == "mlops-dev-gpu-spot-g6" and "SPOT" in ln["what"]]
    assert gpu[0]["idleMonthlyUsd"] == 0 and gpu[0]["assumption"] == "spotPriceRatio"
    assert max(dev_json["lines"], key=lambda ln: ln["maxMonthlyUsd"] or 0)["resource"] == "mlops-dev-gpu-spot-g6"
    assert totals["notPriced"] == len(dev_json["notPriced"])
    # No unpriced line lacks its reason (dev may have none: with CI's empty chart store nothing unpriced renders).
    assert [n for n in dev_json["notPriced"] if not n["notPricedReason"]] == []


def test_dev_idle_estimate_is_within_the_budget_its_stack_sets(dev_json: dict[str, Any]) -> None:
    # within, or unknown while a line is not priced (the totals are lower bounds then)
    known = True if dev_json["totals"]["notPriced"] == 0 else None
    assert dev_json["budget"]["idleMonthlyUsd"] == 650 and dev_json["budget"]["idleWithin"] is known
    assert dev_json["budget"]["totalsAreLowerBounds"] is (known is None)
    assert dev_json["totals"]["idleMonthlyUsd"] <= dev_json["budget"]["idleMonthlyUsd"]
    assert dev_json["budget"]["maxWithin"] is known


def test_markdown_format_is_a_table_per_component_and_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--stack", "dev", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| Component | Idle / month | At max / month |" in out
    assert any(row.startswith("| mlops-dev-gpu-spot-g6 | $0.00 | $") for row in out.splitlines())
    assert "| Assumption | Value | Lines | At max / month |" in out and "| natGbProcessedPerMonth | 100 | 1 |" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "**Total**" in ln]
    assert len(rows) == 1


def test_cost_help_imports_no_pulumi() -> None:
    code = ("import sys\nfrom mlops_infra.cli.main import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'boto3')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_stack_budget_reaches_the_policy_config_check_uses() -> None:
    from mlops_policies.cost import BUDGET_POLICY, UNPRICED_POLICY, with_platform_budget

    from mlops_infra.plan.program import find_program, read_stack_config

    values = read_stack_config(find_program(ROOT), "dev").values
    config = with_platform_budget({}, values)
    assert config[BUDGET_POLICY] == {"idleMonthlyUsd": 650, "maxMonthlyUsd": 2500, "region": "us-east-1"}
    assert config[UNPRICED_POLICY] == {"region": "us-east-1"}  # the same estimate's inputs, no ceilings
    # a value in the policy config file wins over the stack's
    assert with_platform_budget({BUDGET_POLICY: {"idleMonthlyUsd": 1}}, values)[BUDGET_POLICY]["idleMonthlyUsd"] == 1
    assert with_platform_budget({BUDGET_POLICY: "advisory"}, values)[BUDGET_POLICY]["enforcementLevel"] == "advisory"


def test_the_pack_reads_the_budget_from_the_config_the_engine_passes() -> None:
    from mlops_policies.cost import platform_budget_from_process

    platform = {"environment": "prod", "region": "us-east-1", "budget": {"maxMonthlyUsd": 10, "assumptions": {
        "spotPriceRatio": 0.3}}}
    found = platform_budget_from_process({"PULUMI_CONFIG": json.dumps({"mlops:platform": json.dumps(platform)})})
    assert found == {"maxMonthlyUsd": 10, "assumptions": {"spotPriceRatio": 0.3}, "region": "us-east-1"}
    assert platform_budget_from_process({"PULUMI_CONFIG": "not json"}) == {}


def test_check_fails_dev_when_the_budget_is_below_the_estimate(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({BUDGET: {"idleMonthlyUsd": 100}}))
    code = main(["check", "--stack", "dev", "--pack", "mlops-cost", "--policy-config", str(config), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    found = [f for f in report["findings"] if f["policy"] == BUDGET]
    assert code == 1 and len(found) == 1 and found[0]["enforcement"] == "mandatory"
    assert found[0]["message"].startswith("estimated idle cost $") and "over the budget of $100.00" in found[0]["message"]


BUDGET = "mlops-cost-budget"
