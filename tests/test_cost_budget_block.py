"""`mlops-infra cost --format json`'s budget block: within the ceiling, over it, or unknown while a line is not priced
(the totals are then lower bounds: a lower bound within the ceiling proves nothing; one over it is over)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.cli.cost_cmd import _render
from mlops_infra.config.budget import BudgetConfig
from mlops_infra.cost import Assumptions, Estimate
from mlops_infra.cost.model import Line


def _budget_block(idle: float, unpriced: int, limit: float = 100.0) -> dict[str, Any]:
    lines = [Line("c", "r", "aws:ec2/instance:Instance", "hours", idle, idle * 2)]
    lines += [Line("c", f"u{i}", "aws:x/y:Z", "unknown", None, None, reason="no price") for i in range(unpriced)]
    est = Estimate(region="us-east-1", price_date="2026-12-07", assumptions=Assumptions(), lines=lines)
    block: dict[str, Any] = json.loads(_render(est, BudgetConfig(idle_monthly_usd=limit, max_monthly_usd=limit * 2),
                                               "json", "t"))["budget"]
    return block


@pytest.mark.parametrize(("idle", "unpriced", "within", "lower"), [
    (50.0, 0, True, False),     # every line priced, within
    (150.0, 0, False, False),   # every line priced, over
    (50.0, 3, None, True),      # unpriced lines: the total is a lower bound, within proves nothing
    (150.0, 3, False, True),    # even the lower bound is over
])
def test_the_budget_block_is_unknown_while_a_line_is_unpriced_and_within_only_when_known(
        idle: float, unpriced: int, within: bool | None, lower: bool) -> None:
    block = _budget_block(idle, unpriced)
    assert (block["idleWithin"], block["maxWithin"], block["totalsAreLowerBounds"]) == (within, within, lower)


def test_without_a_ceiling_the_block_says_nothing_either_way() -> None:
    est = Estimate(region="us-east-1", price_date="2026-12-07", assumptions=Assumptions(),
                   lines=[Line("c", "r", "t", "w", 1.0, 2.0)])
    block = json.loads(_render(est, BudgetConfig(), "json", "t"))["budget"]
    assert block["idleWithin"] is None and block["maxWithin"] is None
