"""The committed price table (prices.json beside this file): USD list prices per region, each with its source.

Keys: `ec2:<instance type>` (on-demand Linux, per hour), `rds:<engine>:<class>` (Single-AZ, per hour), and service
keys such as `nat:hour`, `ebs:gp3-gb-month` (see the file). A key that is absent is *not priced*: the estimator
reports it, it never counts it as zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

PRICE_FILE = "prices.json"
SUPPORTED_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
"""The Regions the README lists as supported; the committed table aims to price every shipped stack in each."""


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


@dataclass(frozen=True)
class PriceTable:
    date: str
    source: str
    hours_per_month: float
    regions: Mapping[str, Mapping[str, Price]]
    sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def get(self, region: str, key: str) -> Price | None:
        return self.regions.get(region, {}).get(key)

    def with_prices(self, region: str, prices: Mapping[str, Price], *, date: str | None = None,
                    sources: Mapping[str, Mapping[str, str]] | None = None) -> PriceTable:
        """A copy with `prices` merged into `region` (used by `--live`), and their `sources`."""
        merged = {**self.regions.get(region, {}), **prices}
        return PriceTable(date or self.date, self.source, self.hours_per_month, {**self.regions, region: merged},
                          {**self.sources, **(sources or {})})

    def to_json(self) -> dict[str, Any]:
        return {"schemaVersion": 1, "currency": "USD", "hoursPerMonth": self.hours_per_month, "date": self.date,
                "source": self.source, "sources": dict(self.sources),
                "regions": {r: {k: {"usd": p.usd, "unit": p.unit, "source": p.source} for k, p in sorted(e.items())}
                            for r, e in self.regions.items()}}


def parse_table(data: Mapping[str, Any]) -> PriceTable:
    regions = {region: {key: Price(float(v["usd"]), str(v["unit"]), str(v["source"])) for key, v in entries.items()}
               for region, entries in (data.get("regions") or {}).items()}
    sources = dict(data.get("sources") or {})
    # The table's date is its newest retrieval: a source added after the last full refresh moves it forward.
    date = max([str(data["date"]), *(str(v["retrieved"]) for v in sources.values() if v.get("retrieved"))])
    return PriceTable(date, str(data["source"]), float(data.get("hoursPerMonth", 730)), regions, sources)


@lru_cache(maxsize=4)
def load_prices(path: str | None = None) -> PriceTable:
    """The committed table (or the JSON file at `path`). Cached: a policy check reads it once per process."""
    if path is not None:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files(__package__).joinpath(PRICE_FILE).read_text(encoding="utf-8")
    return parse_table(json.loads(text))
