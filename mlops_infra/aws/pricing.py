"""`mlops-infra cost --live`: refresh instance prices from the AWS Pricing API (GetProducts).

The Pricing API is served from us-east-1 (it also answers for every other region's prices). The client uses the
same retry `Config` as every other client (mlops_infra/aws/session.py: standard mode, 6 attempts) and botocore's
`get_products` paginator. Filters as the API documents them (TERM_MATCH on product attributes): EC2 by
instanceType, location, operatingSystem=Linux, tenancy=Shared, capacitystatus=Used, preInstalledSw=NA; RDS by
instanceType, location, databaseEngine, deploymentOption=Single-AZ.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .session import Aws, AwsOperationError, aws_errors

if TYPE_CHECKING:
    from ..cost import Item, Price, PriceTable

PRICING_REGION = "us-east-1"
SOURCE_ID = "aws-pricing-api"
# Pricing API `location` values of the regions the price table carries (AWS "Region name" column).
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)", "ap-northeast-1": "Asia Pacific (Tokyo)",
}
RDS_ENGINES = {"postgres": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}


def _term(field: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def on_demand_usd(price_list: Iterable[str]) -> float | None:
    """The on-demand USD price per unit in GetProducts' `PriceList` (JSON strings); None when there is none."""
    for raw in price_list:
        product = json.loads(raw)
        for term in (product.get("terms", {}).get("OnDemand") or {}).values():
            for dim in (term.get("priceDimensions") or {}).values():
                usd = (dim.get("pricePerUnit") or {}).get("USD")
                if usd is not None and float(usd) > 0:
                    return float(usd)
    return None


def _query(client: Any, service: str, filters: list[dict[str, str]]) -> float | None:
    pages = client.get_paginator("get_products").paginate(ServiceCode=service, Filters=filters, FormatVersion="aws_v1")
    return on_demand_usd(p for page in pages for p in page.get("PriceList", []))


def ec2_filters(instance_type: str, location: str) -> list[dict[str, str]]:
    return [_term("instanceType", instance_type), _term("location", location), _term("operatingSystem", "Linux"),
            _term("tenancy", "Shared"), _term("capacitystatus", "Used"), _term("preInstalledSw", "NA")]


def rds_filters(instance_class: str, engine: str, location: str) -> list[dict[str, str]]:
    return [_term("instanceType", instance_class), _term("location", location),
            _term("databaseEngine", RDS_ENGINES.get(engine, engine)), _term("deploymentOption", "Single-AZ")]


def wanted(items: Iterable[Item]) -> tuple[set[str], set[tuple[str, str]]]:
    """(EC2 instance types, (engine, class) of RDS instances) the plan uses."""
    ec2: set[str] = set()
    rds: set[tuple[str, str]] = set()
    for item in items:
        if item.type == "aws:eks/nodeGroup:NodeGroup":
            ec2.update(str(t) for t in item.inputs.get("instanceTypes") or [])
        elif item.type == "aws:rds/instance:Instance" and item.inputs.get("instanceClass"):
            rds.add((str(item.inputs.get("engine") or "postgres"), str(item.inputs["instanceClass"])))
    return ec2, rds


def fetch_prices(client: Any, region: str, ec2: Iterable[str], rds: Iterable[tuple[str, str]]) -> dict[str, Price]:
    from ..cost import Price

    location = LOCATIONS.get(region)
    if location is None:
        raise AwsOperationError(f"no Pricing API location known for region {region} (known: {', '.join(LOCATIONS)})")
    found: dict[str, Price] = {}
    for instance_type in sorted(ec2):
        usd = _query(client, "AmazonEC2", ec2_filters(instance_type, location))
        if usd is not None:
            found[f"ec2:{instance_type}"] = Price(usd, "hour", SOURCE_ID)
    for engine, klass in sorted(rds):
        usd = _query(client, "AmazonRDS", rds_filters(klass, engine, location))
        if usd is not None:
            found[f"rds:{engine}:{klass}"] = Price(usd, "hour", SOURCE_ID)
    return found


def pricing_client(aws: Aws) -> Any:
    """The Pricing API client: us-east-1 endpoint, the session's retry config (standard mode by default)."""
    return aws.session.client("pricing", region_name=PRICING_REGION, config=aws.config)


def refresh_prices(table: PriceTable, region: str, items: Iterable[Item], *, profile: str | None = None,
                   client: Any = None) -> PriceTable:
    """`table` with the plan's EC2/RDS instance prices for `region` replaced by the Pricing API's."""
    ec2, rds = wanted(items)
    with aws_errors():
        prices = fetch_prices(client or pricing_client(Aws(region=PRICING_REGION, profile=profile)), region, ec2, rds)
    today = dt.date.today().isoformat()
    source = {"url": "https://pricing.us-east-1.amazonaws.com (GetProducts)", "retrieved": today,
              "note": "on-demand Linux/shared EC2 and Single-AZ RDS instance prices"}
    return table.with_prices(region, prices, date=today, sources={SOURCE_ID: source})
