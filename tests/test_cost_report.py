"""The cost report never shows an unpriced figure as a zero: per component, per assumption, in the budget verdict,
and for a Region the price table does not hold (R8 finding 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_infra.cli.cost_cmd import _render
from mlops_infra.cli.main import main
from mlops_infra.config.budget import BudgetConfig
from mlops_infra.cost import Assumptions, Estimate, Line
from mlops_infra.cost.prices import SUPPORTED_REGIONS
from tests.nonempty import each

ROOT = Path(__file__).resolve().parent.parent


def _estimate() -> Estimate:
    """`net`: one priced line and one not; `gpu`: nothing priced (a node group whose instance type the table lacks);
    `db`: all priced. natGbProcessedPerMonth drives only the unpriced line."""
    return Estimate("eu-west-1", "2026-12-07", Assumptions(), [
        Line("net", "nat", "aws:ec2/natGateway:NatGateway", "NAT hours", 13.8, 13.8),
        Line("net", "nat", "aws:ec2/natGateway:NatGateway", "NAT GB", None, None, "natGbProcessedPerMonth",
             "no price for nat:gb in eu-west-1"),
        Line("gpu", "gpu-g6", "aws:eks/nodeGroup:NodeGroup", "SPOT g6.8xlarge: 0..4 nodes", None, None,
             "spotPriceRatio", "no price for ec2:g6.8xlarge in eu-west-1"),
        Line("gpu", "gpu-g6", "aws:eks/nodeGroup:NodeGroup", "gp3 root volume", None, None, None,
             "no price for ebs:gp3-gb-month in eu-west-1"),
        Line("db", "db", "aws:rds/instance:Instance", "db.m7g.large", 120.0, 120.0),
    ])


def test_each_component_row_says_how_many_of_its_lines_are_not_priced_and_none_is_dropped() -> None:
    est = _estimate()
    assert est.not_priced_per_component() == {"net": 1, "gpu": 2}
    out = _render(est, BudgetConfig(), "text", "t")
    rows = out.split("Per component (idle / at max):\n", 1)[1].split("\n\n", 1)[0].splitlines()
    # components with unpriced lines first (their subtotals are lower bounds), then the rest, costliest first
    assert [row.split()[-1] for row in rows] == ["net", "gpu", "db"]
    assert "$13.80 + 1 not priced" in rows[0] and "$120.00" in rows[2] and "not priced" not in rows[2]
    assert rows[1].count("2 not priced") == 2 and "$" not in rows[1]  # all unpriced: no $0.00 at all
    md = _render(est, BudgetConfig(), "markdown", "t")
    assert "| gpu | 2 not priced | 2 not priced |" in md and "| net | $13.80 + 1 not priced |" in md
    components = {c["component"]: c for c in json.loads(_render(est, BudgetConfig(), "json", "t"))["components"]}
    assert components["gpu"]["notPriced"] == 2 and components["db"]["notPriced"] == 0


def test_an_assumption_that_drives_only_unpriced_lines_is_not_priced_not_zero() -> None:
    out = _render(_estimate(), BudgetConfig(), "text", "t")
    nat = next(line for line in out.splitlines() if line.strip().startswith("natGbProcessedPerMonth = "))
    assert nat.endswith("1 line(s), not priced") and "$0.00" not in nat
    unused = next(line for line in out.splitlines() if line.strip().startswith("cloudtrailDataEventsMillionPerMonth"))
    assert "(unused by this stack)" in unused
    md = _render(_estimate(), BudgetConfig(), "markdown", "t")
    assert "| natGbProcessedPerMonth | 100 | 1 | not priced |" in md


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_budget_verdict_is_unknown_while_lines_are_not_priced(fmt: str) -> None:
    within = BudgetConfig(idle_monthly_usd=500, max_monthly_usd=500)
    assert "budget: unknown (3 lines not priced)" in _render(_estimate(), within, fmt, "t")
    over = BudgetConfig(idle_monthly_usd=100)  # even the lower bound ($133.80) is over: that is known
    out = _render(_estimate(), over, fmt, "t")
    assert "idle estimate $133.80 is over the budget of $100.00" in out and "budget: unknown" not in out
    assert "budget: unknown" not in _render(_estimate(), BudgetConfig(), fmt, "t")  # no budget, no verdict


def test_a_region_the_price_table_lacks_is_refused_unless_live(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cost", "--program", str(ROOT), "--stack", "dev", "--region", "ap-south-1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "ap-south-1" in err and "--live" in err and all(r in err for r in each(SUPPORTED_REGIONS))


def test_live_prices_let_a_region_the_table_lacks_through(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from mlops_infra.aws import pricing
    from mlops_infra.cost import Price, PriceTable

    def live(table: PriceTable, region: str, items: object, *, profile: str | None = None) -> PriceTable:
        return table.with_prices(region, {"ec2:m7i.xlarge": Price(0.2, "hour", pricing.SOURCE_ID)})

    monkeypatch.setattr(pricing, "refresh_prices", live)
    code = main(["cost", "--program", str(ROOT), "--stack", "dev", "--region", "ap-south-1", "--live", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["region"] == "ap-south-1"
    system = [ln for ln in data["lines"] if ln["what"].startswith("ON_DEMAND m7i.xlarge")]
    assert system and system[0]["idleMonthlyUsd"] > 0
    assert data["totals"]["notPriced"] == len(data["notPriced"]) > 0  # what the API did not price stays listed
