"""tools/regen_prices.py: the Pricing API answers land in every supported Region of the table (it cannot reach the
API here, so a client answers with GetProducts' documented response shape, recorded below)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from typing import Any

from mlops_infra.aws.pricing import LOCATIONS, SOURCE_ID
from mlops_infra.cost import Item, load_prices
from mlops_infra.cost.prices import parse_table
from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("regen_prices", ROOT / "tools" / "regen_prices.py")
assert spec and spec.loader
regen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(regen)


def price_list_entry(sku: str, attributes: dict[str, str], usd: str) -> str:
    """One `PriceList` element as GetProducts returns it (format aws_v1): a JSON *string* holding the product, its
    attributes and its terms; OnDemand terms are keyed `<sku>.<offerTermCode>`, their dimensions
    `<sku>.<offerTermCode>.<rateCode>`, and `pricePerUnit.USD` is a decimal string."""
    term, rate = f"{sku}.JRTCKXETXF", f"{sku}.JRTCKXETXF.6YS6EN2CT7"
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
        "serviceCode": attributes.get("servicecode", "AmazonEC2"),
        "terms": {"OnDemand": {term: {"priceDimensions": {rate: {
            "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "rateCode": rate, "appliesTo": [],
            "description": f"${usd} per On Demand Linux instance hour", "pricePerUnit": {"USD": usd}}},
            "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF", "termAttributes": {}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z"})


class Client:
    """A pricing client: `get_paginator("get_products").paginate(...)` answers from `answers`, keyed by
    (service, instanceType, location); it records every query."""

    def __init__(self, answers: dict[tuple[str, str, str], str]) -> None:
        self.answers, self.queries = answers, []  # type: ignore[var-annotated]

    def get_paginator(self, name: str) -> Client:
        assert name == "get_products"
        return self

    def paginate(self, **params: Any) -> Iterator[dict[str, Any]]:
        assert params["FormatVersion"] == "aws_v1"
        terms = {f["Field"]: f["Value"] for f in params["Filters"]}
        key = (params["ServiceCode"], terms["instanceType"], terms["location"])
        self.queries.append(key)
        found = self.answers.get(key)
        yield {"FormatVersion": "aws_v1", "PriceList": [found] if found else []}


ITEMS = [Item("aws:eks/nodeGroup:NodeGroup", "gpu", {"instanceTypes": ["g6.xlarge"]}),
         Item("aws:rds/instance:Instance", "db", {"engine": "postgres", "instanceClass": "db.r7g.large"})]


def test_every_region_is_refreshed_from_the_api_and_an_unanswered_price_stays_absent() -> None:
    west, ireland = LOCATIONS["us-west-2"], LOCATIONS["eu-west-1"]
    client = Client({
        ("AmazonEC2", "g6.xlarge", west): price_list_entry("A1", {"instanceType": "g6.xlarge", "location": west},
                                                           "0.8048000000"),
        ("AmazonEC2", "g6.xlarge", ireland): price_list_entry("B1", {"instanceType": "g6.xlarge",
                                                                     "location": ireland}, "0.8900000000"),
        ("AmazonRDS", "db.r7g.large", west): price_list_entry("C1", {"instanceType": "db.r7g.large",
                                                                     "servicecode": "AmazonRDS"}, "0.2390000000"),
    })
    before = load_prices()
    assert before.get("eu-west-1", "rds:postgres:db.r7g.large") is None
    table = regen.regenerate(before, ITEMS, ("us-west-2", "eu-west-1"), client)
    assert len(client.queries) == 4  # each type and class, in each Region
    written = parse_table(json.loads(json.dumps(table.to_json())))  # what --write puts on disk, read back
    assert written.get("us-west-2", "ec2:g6.xlarge").usd == 0.8048  # type: ignore[union-attr]
    assert written.get("eu-west-1", "ec2:g6.xlarge").usd == 0.89  # type: ignore[union-attr]
    assert written.get("us-west-2", "rds:postgres:db.r7g.large").source == SOURCE_ID  # type: ignore[union-attr]
    assert written.get("eu-west-1", "rds:postgres:db.r7g.large") is None  # no answer: not invented
    assert written.sources[SOURCE_ID]["retrieved"]
    assert written.get("us-east-1", "nat:hour") == before.get("us-east-1", "nat:hour")  # untouched


def test_the_script_plans_every_shipped_configuration() -> None:
    variants = sorted(regen.VARIANTS.glob("Pulumi.*.yaml"))
    assert variants and regen.STACKS[1] == ("dev", "staging", "prod")
