"""Usage the plan cannot know, stated once with its default; every figure that uses one names it in the report.

Configurable per stack under `budget.assumptions` in `mlops:platform` (camelCase keys, see config/budget.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


@dataclass(frozen=True)
class Assumptions:
    nat_gb_processed_per_month: float = 100.0
    """GB processed per NAT gateway per month. Default: 100."""
    interface_endpoint_gb_per_month: float = 10.0
    """GB processed per interface VPC endpoint per month. Default: 10."""
    dynamodb_write_million_per_month: float = 1.0
    """Million write request units per on-demand DynamoDB table per month. Default: 1."""
    dynamodb_read_million_per_month: float = 10.0
    """Million read request units per on-demand DynamoDB table per month. Default: 10."""
    s3_gb_stored_per_bucket: float = 100.0
    """GB stored per S3 bucket (S3 Standard). Default: 100."""
    log_gb_ingested_per_group: float = 5.0
    """GB ingested per CloudWatch log group per month. Default: 5."""
    cloudtrail_data_events_million_per_month: float = 1.0
    """Million CloudTrail data events per month per trail that records data events: object reads and writes on the
    data buckets and on the unguarded buckets pods write (shared, Airflow's logs and DAGs; Airflow's task logs make
    them the busiest). Each is also copied to the trail's CloudWatch log group (see cloudtrailEventKb). Default: 1."""
    cloudtrail_management_events_million_per_month: float = 1.0
    """Million management events a multi-region trail records per month (every Region of the account). Billed only for
    a trail tagged as an additional copy (`securityBaseline.trailManagementCopy`: by default a stack that adopts
    another stack's GuardDuty detector, staging in prod's account, whose trail holds the free first copy). Default:
    1."""
    cloudtrail_event_kb: float = 1.5
    """KB of CloudWatch Logs ingestion per event a trail copies to its log group (an event record is JSON of about a
    kilobyte or two; a stated guess, no measured source). Prices the data events' copy on the trail's own line; the
    management events' copy is inside the log group's logGbIngestedPerGroup. Default: 1.5."""
    sns_publish_million_per_month: float = 0.1
    """Million publishes per SNS topic per month; each subscription receives every one. Default: 0.1."""
    guardduty_cloudtrail_events_million_per_month: float = 1.0
    """Million CloudTrail management events GuardDuty analyses per detector per month. Default: 1."""
    guardduty_vpc_flow_log_gb_per_month: float = 10.0
    """GB of VPC flow logs GuardDuty analyses per detector per month. Default: 10."""
    spot_price_ratio: float = 0.4
    """Spot price as a fraction of the on-demand price (AWS quotes "up to 90% off"). Default: 0.4."""

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> Assumptions:
        """From camelCase (config) or snake_case keys; unknown keys are ignored, missing keys keep the default.
        Raises ValueError for a value the stack's `budget.assumptions` would refuse (config/budget.py): a negative
        quantity, or a spot price ratio outside (0, 1], which would make a breach disappear (review R11COST)."""
        values: dict[str, float] = {}
        for f in fields(cls):
            for key in (to_camel(f.name), f.name):
                value = (raw or {}).get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values[f.name] = float(value)
                    break
        bad = [f"{to_camel(k)}={v:g}" for k, v in values.items()
               if not math.isfinite(v) or v < 0 or (k == "spot_price_ratio" and not 0 < v <= 1)]
        if bad:
            raise ValueError(f"cost assumptions out of range: {', '.join(bad)} (quantities are >= 0; spotPriceRatio "
                             "is in (0, 1])")
        return replace(cls(), **values)

    def describe(self) -> dict[str, float]:
        """camelCase name -> value, as printed and as configured."""
        return {to_camel(f.name): float(getattr(self, f.name)) for f in fields(self)}
