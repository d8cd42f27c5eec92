"""`cost --live`: the Pricing API queries (filters, pagination) and how their answers land in the price table,
with botocore's Stubber (moto does not serve the Pricing API)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlops_infra.aws.pricing import (
    SOURCE_ID,
    ec2_filters,
    on_demand_usd,
    pricing_client,
    rds_filters,
    refresh_prices,
)
from mlops_infra.aws.session import Aws, AwsOperationError
from mlops_infra.cost import Item, estimate, load_prices

LOCATION = "US East (N. Virginia)"


def product(usd: str) -> str:
    """One GetProducts PriceList entry, shaped as the API returns it (a JSON string)."""
    return json.dumps({"product": {"attributes": {}}, "terms": {"OnDemand": {"T1": {"priceDimensions": {
        "D1": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}}}})


def expect(stub: Stubber, service: str, filters: list[dict[str, str]], pages: list[list[str]]) -> None:
    for i, page in enumerate(pages):
        params: dict[str, Any] = {"ServiceCode": service, "Filters": filters, "FormatVersion": "aws_v1"}
        if i:
            params["NextToken"] = f"t{i}"
        response: dict[str, Any] = {"PriceList": page, "FormatVersion": "aws_v1"}
        if i + 1 < len(pages):
            response["NextToken"] = f"t{i + 1}"
        stub.add_response("get_products", response, params)


ITEMS = [Item("aws:eks/nodeGroup:NodeGroup", "gpu", {"instanceTypes": ["g6.xlarge"], "capacityType": "ON_DEMAND",
                                                     "scalingConfig": {"minSize": 0, "maxSize": 2}}),
         Item("aws:rds/instance:Instance", "db", {"engine": "postgres", "instanceClass": "db.r7g.large",
                                                  "multiAz": True, "allocatedStorage": 50, "storageType": "gp3"})]


def test_live_refresh_queries_with_the_documented_filters_follows_pages_and_prices_what_was_unpriced() -> None:
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        # page 1 has no on-demand price (a reserved-only SKU); the paginator must read page 2
        expect(stub, "AmazonEC2", ec2_filters("g6.xlarge", LOCATION),
               [[json.dumps({"terms": {"OnDemand": {}}})], [product("0.9000000000")]])
        expect(stub, "AmazonRDS", rds_filters("db.r7g.large", "postgres", LOCATION), [[product("0.2390000000")]])
        table = refresh_prices(load_prices(), "us-east-1", ITEMS, client=client)
        stub.assert_no_pending_responses()
    assert table.get("us-east-1", "ec2:g6.xlarge").usd == 0.9  # type: ignore[union-attr]
    assert table.get("us-east-1", "rds:postgres:db.r7g.large").source == SOURCE_ID  # type: ignore[union-attr]
    assert SOURCE_ID in table.sources and table.sources[SOURCE_ID]["retrieved"] == table.date
    before = estimate(ITEMS, region="us-east-1")
    after = estimate(ITEMS, region="us-east-1", prices=table)
    assert any("db.r7g.large" in ln.what for ln in before.not_priced)  # not in the committed table
    [db] = [ln for ln in after.lines if "db.r7g.large" in ln.what]
    assert db.idle == pytest.approx(2 * 0.239 * 730)  # Multi-AZ: two instances
    assert ec2_filters("g6.xlarge", LOCATION) == [
        {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "g6.xlarge"},
        {"Type": "TERM_MATCH", "Field": "location", "Value": LOCATION},
        {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
        {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
        {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
        {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"}]


def test_an_aws_error_becomes_one_line() -> None:
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "AccessDeniedException", "not allowed")
        with pytest.raises(AwsOperationError, match="access denied: GetProducts"):
            refresh_prices(load_prices(), "us-east-1", ITEMS, client=client)


def test_unknown_region_is_refused_before_any_call() -> None:
    with pytest.raises(AwsOperationError, match="no Pricing API location known for region mars-east-1"):
        refresh_prices(load_prices(), "mars-east-1", ITEMS, client=object())


def test_the_client_talks_to_us_east_1_with_standard_retries() -> None:
    client = pricing_client(Aws(region="eu-west-1"))
    assert client.meta.region_name == "us-east-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}


def test_on_demand_usd_skips_zero_priced_dimensions() -> None:
    assert on_demand_usd([product("0.0000000000"), product("1.5")]) == 1.5
    assert on_demand_usd([]) is None
