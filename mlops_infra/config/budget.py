"""`budget`: the monthly cost ceilings the cost policy enforces, and the usage assumptions the estimate states.

The estimator itself (mlops_infra/cost) reads the same camelCase keys without pydantic (the policy pack has no
pydantic); the defaults below are taken from its `Assumptions` so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import fields

from pydantic import Field

from ..cost.assumptions import Assumptions
from .base import ConfigModel

_DEFAULTS = Assumptions()


def _default(name: str) -> float:
    return float(getattr(_DEFAULTS, name))


class CostAssumptionsConfig(ConfigModel):
    """Usage the plan cannot know. Each figure in `mlops-infra cost` names the assumption it uses."""

    nat_gb_processed_per_month: float = Field(_default("nat_gb_processed_per_month"), ge=0,
                                              description="GB processed per NAT gateway per month. Default: 100.")
    interface_endpoint_gb_per_month: float = Field(_default("interface_endpoint_gb_per_month"), ge=0,
                                                   description="GB per interface VPC endpoint per month. Default: 10.")
    dynamodb_write_million_per_month: float = Field(
        _default("dynamodb_write_million_per_month"), ge=0,
        description="Million write request units per on-demand DynamoDB table per month. Default: 1.")
    dynamodb_read_million_per_month: float = Field(
        _default("dynamodb_read_million_per_month"), ge=0,
        description="Million read request units per on-demand DynamoDB table per month. Default: 10.")
    s3_gb_stored_per_bucket: float = Field(_default("s3_gb_stored_per_bucket"), ge=0,
                                           description="GB stored per S3 bucket. Default: 100.")
    log_gb_ingested_per_group: float = Field(_default("log_gb_ingested_per_group"), ge=0,
                                             description="GB ingested per CloudWatch log group per month. Default: 5.")
    cloudtrail_data_events_million_per_month: float = Field(
        _default("cloudtrail_data_events_million_per_month"), ge=0,
        description="Million CloudTrail data events per month per trail that records them (data buckets and the "
        "unguarded buckets pods write; each also copied to the trail's log group). Default: 1.")
    cloudtrail_management_events_million_per_month: float = Field(
        _default("cloudtrail_management_events_million_per_month"), ge=0,
        description="Million management events a multi-region trail records per month; billed for a trail that "
        "is an additional copy (`securityBaseline.trailManagementCopy`; the first copy in each Region of an "
        "account is free). Default: 1.")
    cloudtrail_event_kb: float = Field(
        _default("cloudtrail_event_kb"), ge=0,
        description="KB of CloudWatch Logs ingestion per event a trail copies to its log group. Default: 1.5.")
    sns_publish_million_per_month: float = Field(
        _default("sns_publish_million_per_month"), ge=0,
        description="Million publishes per SNS topic per month (each subscription receives each). Default: 0.1.")
    guardduty_cloudtrail_events_million_per_month: float = Field(
        _default("guardduty_cloudtrail_events_million_per_month"), ge=0,
        description="Million CloudTrail management events GuardDuty analyses per month. Default: 1.")
    guardduty_vpc_flow_log_gb_per_month: float = Field(
        _default("guardduty_vpc_flow_log_gb_per_month"), ge=0,
        description="GB of VPC flow logs GuardDuty analyses per month. Default: 10.")
    spot_price_ratio: float = Field(_default("spot_price_ratio"), gt=0, le=1,
                                    description="Spot price as a fraction of on-demand. Default: 0.4.")

    def to_assumptions(self) -> Assumptions:
        return Assumptions(**{f.name: float(getattr(self, f.name)) for f in fields(Assumptions)})


class BudgetConfig(ConfigModel):
    """Monthly cost ceilings (USD) for the stack's estimate; the `mlops-cost-budget` policy enforces them."""

    idle_monthly_usd: float | None = Field(
        None, gt=0, description="Ceiling for the idle estimate (every pool at its minimum). Default: none (unchecked).")
    max_monthly_usd: float | None = Field(
        None, gt=0, description="Ceiling for the at-max estimate (every pool at its maximum). Default: none.")
    assumptions: CostAssumptionsConfig = Field(default_factory=CostAssumptionsConfig,
                                               description="Usage assumptions of the estimate.")

    def problems(self) -> list[tuple[str, str]]:
        if self.idle_monthly_usd and self.max_monthly_usd and self.idle_monthly_usd > self.max_monthly_usd:
            return [("idleMonthlyUsd", "is above maxMonthlyUsd")]
        return []
