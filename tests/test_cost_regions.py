"""Every shipped stack priced in every supported Region: what the committed table cannot price is an exact ledger.

How the Region is overridden: the plan of a stack does not depend on its price Region (the inventory holds the same
resources and inputs wherever it runs), so each stack is planned once and its inventory priced in each Region, as
`mlops-infra cost --stack S --region R` does. The ledger (tests/data/cost-gaps.json) lists, per Region, every price
key a shipped stack looks up and the table lacks, and every line that has no key at all. The test fails when a gap
appears (a new instance class, a new resource type) and when one closes (delete it from the ledger), so the ledger
is the to-do list towards "no unpriced line". us-east-1, where the shipped stacks run, has none: every line of
dev, staging and prod is priced there, with no waiver. The eu-west-1 EC2 keys are GPU types AWS does not offer in
that Region; the config refuses such pools there (mlops_infra/compute/gpu_config.py), so they are no price to find.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_infra.cost import estimate, load_prices
from mlops_infra.cost.model import items_from_inventory
from mlops_infra.cost.prices import SUPPORTED_REGIONS, PriceTable
from tests.conftest import ROOT, planned

LEDGER = ROOT / "tests" / "data" / "cost-gaps.json"
STACKS = ("dev", "staging", "prod")


class Recording(PriceTable):
    """The committed table, remembering every key looked up and missing."""

    def __init__(self, table: PriceTable, misses: set[str]) -> None:
        super().__init__(table.date, table.source, table.hours_per_month, table.regions, table.sources)
        object.__setattr__(self, "misses", misses)

    def get(self, region: str, key: str) -> Any:
        found = super().get(region, key)
        if found is None:
            self.misses.add(key)  # type: ignore[attr-defined]
        return found


def gaps(region: str) -> list[str]:
    misses: set[str] = set()
    table = Recording(load_prices(), misses)
    keyless: set[str] = set()
    for stack in STACKS:
        est = estimate(items_from_inventory(planned(stack)), region=region, prices=table)
        keyless |= {f"{ln.type}: {ln.reason}" for ln in est.not_priced if "no price for" not in ln.reason}
    return sorted(misses) + sorted(keyless)


def test_supported_regions_are_the_three_the_readme_lists() -> None:
    assert SUPPORTED_REGIONS == ("us-east-1", "us-west-2", "eu-west-1")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [line] = [ln for ln in readme.splitlines() if ln.startswith("Supported Regions: ")]
    assert re.findall(r"`([a-z]{2}-[a-z]+-\d)`", line) == list(SUPPORTED_REGIONS)


@pytest.mark.parametrize("region", SUPPORTED_REGIONS)
def test_shipped_stacks_unpriced_in_region_are_exactly_the_ledger(region: str) -> None:
    ledger = json.loads(LEDGER.read_text(encoding="utf-8"))
    assert gaps(region) == ledger[region], f"regenerate {LEDGER.name}: python -m tests.test_cost_regions"


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_have_no_unpriced_line_in_us_east_1(stack: str) -> None:
    # The ledger test sees lookups; this one sees what `cost --stack S` reports, lines without a key included.
    assert json.loads(LEDGER.read_text(encoding="utf-8"))["us-east-1"] == []
    est = estimate(items_from_inventory(planned(stack)), region="us-east-1")
    assert est.lines and est.not_priced == [], [f"{ln.what}: {ln.reason}" for ln in est.not_priced]


def test_every_eu_west_1_instance_gap_is_a_gpu_family_the_config_refuses_there() -> None:
    from mlops_infra.compute.gpu_config import NOT_OFFERED
    from mlops_infra.config.instances import family_of

    ec2 = [k.removeprefix("ec2:") for k in json.loads(LEDGER.read_text(encoding="utf-8"))["eu-west-1"]
           if k.startswith("ec2:")]
    assert ec2 and all(family_of(t) in NOT_OFFERED["eu-west-1"] for t in ec2), ec2


if __name__ == "__main__":
    LEDGER.write_text(json.dumps({r: gaps(r) for r in SUPPORTED_REGIONS}, indent=1) + "\n", encoding="utf-8")
