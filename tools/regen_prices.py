"""Regenerate the EC2 and RDS instance entries of mlops_infra/cost/prices.json from the AWS Pricing API.

Plans every shipped configuration (the dev, staging and prod stacks and tests/integration/variants), collects the
instance types and RDS classes they use (`mlops_infra.aws.pricing.wanted`), asks GetProducts for each in every
supported Region (`mlops_infra.cost.prices.SUPPORTED_REGIONS`) and writes the table back: refreshed entries name the
Pricing API as their source, with today's date; an answer the API does not give leaves the entry as it was (an
absent price stays absent). Service prices (NAT, EBS, S3, ...) are not instance SKUs and keep their cited sources.

Needs credentials allowed `pricing:GetProducts` (the API answers from us-east-1 for every Region), so it cannot run
offline: `python tools/regen_prices.py --write [--profile P]`; without --write it prints the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRICE_FILE = ROOT / "mlops_infra" / "cost" / "prices.json"
STACKS = (ROOT, ("dev", "staging", "prod"))
VARIANTS = ROOT / "tests" / "integration" / "variants"


def shipped_items() -> list[Any]:
    """Items of every shipped configuration's plan."""
    from mlops_infra.cost.model import items_from_inventory
    from mlops_infra.plan import plan_program

    targets = [(STACKS[0], s) for s in STACKS[1]]
    targets += [(VARIANTS, p.name.split(".")[1]) for p in sorted(VARIANTS.glob("Pulumi.*.yaml"))]
    return [item for program, stack in targets for item in items_from_inventory(plan_program(program, stack))]


def regenerate(table: Any, items: Iterable[Any], regions: Sequence[str], client: Any) -> Any:
    """`table` with every Region's instance entries refreshed through `client` (a boto3 pricing client)."""
    from mlops_infra.aws.pricing import refresh_prices

    listed = list(items)
    for region in regions:
        table = refresh_prices(table, region, listed, client=client)
    return table


def main(argv: list[str] | None = None) -> int:
    from mlops_infra.aws.pricing import PRICING_REGION, pricing_client
    from mlops_infra.aws.session import Aws
    from mlops_infra.cost.prices import SUPPORTED_REGIONS, load_prices

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {PRICE_FILE.relative_to(ROOT)}")
    parser.add_argument("--profile", default=None, help="AWS profile")
    parser.add_argument("--region", action="append", help="only these Regions (repeatable)")
    args = parser.parse_args(argv)
    client = pricing_client(Aws(region=PRICING_REGION, profile=args.profile))
    table = regenerate(load_prices(str(PRICE_FILE)), shipped_items(), args.region or SUPPORTED_REGIONS, client)
    text = json.dumps(table.to_json(), indent=1) + "\n"
    if args.write:
        PRICE_FILE.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
