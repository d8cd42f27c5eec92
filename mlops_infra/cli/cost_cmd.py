"""`mlops-infra cost`: plan a stack offline and estimate its monthly cost, idle and with every pool at its maximum.

Prices: the committed table (mlops_infra/cost/prices.json, with its date and per-entry sources), or `--live`
(the AWS Pricing API, credentials required). Usage the plan cannot know comes from `budget.assumptions`.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from .common import add_program_args, fail, plan_from_args, project_root, run_guarded

if TYPE_CHECKING:
    from ..config.budget import BudgetConfig
    from ..cost import Estimate


def register(sub: Any) -> None:
    p = sub.add_parser("cost", help="estimate the stack's monthly cost from an offline plan",
                       description="Plan a stack offline and estimate its monthly cost per resource and component: "
                                   "idle (pools at their minimum) and at max (pools at their maximum).")
    add_program_args(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                   help="output format (default: text)")
    p.add_argument("--region", default=None, help="price region (default: the config's `region`, else us-east-1)")
    p.add_argument("--live", action="store_true",
                   help="refresh EC2 and RDS instance prices from the AWS Pricing API (needs AWS credentials)")
    p.add_argument("--profile", default=None, help="AWS profile for --live (default: the default chain)")


def _stack_budget(args: argparse.Namespace) -> tuple[str | None, BudgetConfig]:
    """(region, budget) from the stack's `mlops:platform`; defaults when the stack has none."""
    from ..config.budget import BudgetConfig
    from ..plan.program import find_program, read_stack_config
    from ..platform.loader import CONFIG_KEY, CONFIG_NAMESPACE
    from .common import read_config

    stack = read_stack_config(find_program(args.program or project_root()), args.stack)
    if stack.values.get(f"{CONFIG_NAMESPACE}:{CONFIG_KEY}") is None:
        return None, BudgetConfig()
    config = read_config(args)
    return config.region, config.budget


def within(total: float, limit: float | None, unpriced: int) -> bool | None:
    """Whether `total` is within `limit`: None (unknown) without a limit, or while `unpriced` lines make the total a
    lower bound that is still within it; False once even the lower bound is over. (`check`'s budget policy judges
    the priced total as before.)"""
    if limit is None:
        return None
    if total > limit:
        return False
    return None if unpriced else True


def _render(est: Estimate, budget: BudgetConfig, fmt: str, title: str) -> str:
    from ..cost import report

    if fmt == "json":
        data = est.to_json()
        unpriced = len(est.not_priced)
        data["budget"] = {"idleMonthlyUsd": budget.idle_monthly_usd, "maxMonthlyUsd": budget.max_monthly_usd,
                          "idleWithin": within(est.idle, budget.idle_monthly_usd, unpriced),
                          "maxWithin": within(est.max, budget.max_monthly_usd, unpriced),
                          "totalsAreLowerBounds": unpriced > 0}
        return json.dumps(data, indent=2)
    body = report.markdown(est, title) if fmt == "markdown" else report.text(est, title)
    return "\n\n".join([body, *verdict(est, budget)])


def verdict(est: Estimate, budget: BudgetConfig) -> list[str]:
    """The budget's verdict for text and markdown: over (even a lower bound over is over), or unknown while lines
    are not priced; nothing without a budget or when every figure is priced and within it."""
    unpriced = len(est.not_priced)
    over, unknown = [], []
    for label, value, limit in (("idle", est.idle, budget.idle_monthly_usd), ("at-max", est.max, budget.max_monthly_usd)):
        found = within(value, limit, unpriced)
        if found is False and limit is not None:
            over.append(f"{label} estimate ${value:,.2f} is over the budget of ${limit:,.2f}")
        elif found is None and limit is not None:
            unknown.append(f"{label} ${value:,.2f} of ${limit:,.2f}")
    if unknown:
        over.append(f"budget: unknown ({unpriced} lines not priced): the priced {' and '.join(unknown)} "
                    f"{'is a lower bound' if len(unknown) == 1 else 'are lower bounds'}")
    return over


def run(args: argparse.Namespace) -> int:
    from ..config import ConfigError

    def body() -> int:
        from ..cost import estimate, items_from_inventory, load_prices

        try:
            config_region, budget = _stack_budget(args)
        except ConfigError as exc:
            return fail(str(exc))
        region = args.region or config_region or "us-east-1"
        prices = load_prices()
        if region not in prices.regions and not args.live:  # every line would be unpriced: idle $0.00 at a glance
            from ..cost.prices import SUPPORTED_REGIONS

            return fail(f"cost: the committed price table has no prices for {region} (supported Regions: "
                        f"{', '.join(SUPPORTED_REGIONS)}), so every line would be unpriced; `--live` prices its EC2 and "
                        "RDS instances from the AWS Pricing API (credentials required; the rest stays not priced)")
        inventory = plan_from_args(args)
        items = items_from_inventory(inventory)
        if args.live:
            from ..aws.pricing import refresh_prices
            from ..aws.session import AwsOperationError

            try:
                prices = refresh_prices(prices, region, items, profile=args.profile)
            except AwsOperationError as exc:
                return fail(f"cost --live: {exc}")
        est = estimate(items, region=region, prices=prices, assumptions=budget.assumptions.to_assumptions())
        print(_render(est, budget, args.format, f"Monthly cost of {inventory.project}/{inventory.stack}"))
        return 0

    return run_guarded(body)
