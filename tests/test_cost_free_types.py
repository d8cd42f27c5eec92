"""Types AWS does not bill by themselves are free (no unpriced line), usage-billed ones are a $0 line with their usage
listed as not modelled, and the costly types the estimator does not model stay unpriced (FR10 item 4)."""

from __future__ import annotations

import pytest

from mlops_infra.cost import Item, Price, PriceTable, estimate
from tests.nonempty import each

TABLE = PriceTable("2026-11-30", "test", 730.0, {"us-east-1": {"kms:key-month": Price(1.0, "x", "test")}})

FREE = ["aws:elasticache/subnetGroup:SubnetGroup", "aws:elasticache/user:User", "aws:elasticache/userGroup:UserGroup",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy", "aws:sagemaker/model:Model",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "aws:appautoscaling/target:Target",
        "aws:appautoscaling/policy:Policy"]
COSTLY = ["aws:elasticache/replicationGroup:ReplicationGroup", "aws:sagemaker/endpoint:Endpoint",
          "aws:sagemaker/featureGroup:FeatureGroup"]


@pytest.mark.parametrize("type_", FREE)
def test_a_type_aws_does_not_bill_by_itself_has_no_line(type_: str) -> None:
    est = estimate([Item(type_, "r", {})], region="us-east-1", prices=TABLE)
    assert est.lines == [] and est.not_priced == []


@pytest.mark.parametrize("type_", COSTLY)
def test_an_unmodelled_costly_type_stays_not_priced(type_: str) -> None:
    est = estimate([Item(type_, "r", {})], region="us-east-1", prices=TABLE)
    assert [(ln.resource, ln.type) for ln in est.not_priced] == [("r", type_)]


def test_a_queue_is_billed_per_request_a_zero_line_and_its_requests_not_modelled() -> None:
    est = estimate([Item("aws:sqs/queue:Queue", "q", {})], region="us-east-1", prices=TABLE)
    assert est.not_priced == [] and [(ln.idle, ln.max) for ln in each(est.lines)] == [(0.0, 0.0)]
    assert [r for r, what in est.not_modelled if "SQS requests" in what] == ["q"]


def test_a_target_tracking_policy_lists_its_alarms_as_not_modelled() -> None:
    items = [Item("aws:appautoscaling/policy:Policy", "p", {"policyType": "TargetTrackingScaling"}),
             Item("aws:appautoscaling/policy:Policy", "s", {"policyType": "StepScaling"})]
    est = estimate(items, region="us-east-1", prices=TABLE)
    assert [r for r, what in est.not_modelled if "alarms" in what] == ["p"] and est.lines == []
