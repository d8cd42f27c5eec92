"""engine sagemaker: model from the artifact bucket (read-only), data capture encrypted, endpoint, autoscaling."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_infra.plan import Inventory
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.serving.config import SageMakerServingConfig
from mlops_infra.serving.sagemaker_serving import has_local_storage
from tests import iam_eval
from tests.conftest import PROD_API_ACCESS, PROGRAMS, planned


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("test", PROGRAMS / "serving_sagemaker")


def test_serving_engine_is_a_discriminated_union() -> None:
    tags = {"owner": "ml", "costCenter": "cc"}
    cfg = PlatformConfig.model_validate({"environment": "dev", "tags": tags, "serving": {"engine": "sagemaker"},
                                         "cluster": PROD_API_ACCESS})
    assert isinstance(cfg.serving, SageMakerServingConfig)


def _by_name(inv: Inventory, typ: str, model: str) -> dict[str, Any]:
    (rec,) = [r for r in inv.of_type(typ) if r.name.startswith(f"prod-serving-{model}")]
    return rec.inputs


def test_the_model_reads_the_uncompressed_model_from_the_artifact_bucket(inv: Inventory) -> None:
    model: Any = _by_name(inv, "aws:sagemaker/model:Model", "churn")
    (source,) = model["primaryContainer"]["modelDataSource"]["s3DataSources"]
    assert source == {"s3Uri": "s3://prod-artifacts/artifacts/1/models/m-5f0c2d9e8a7b4c3d/artifacts/",
                      "s3DataType": "S3Prefix", "compressionType": "None"}


def test_the_role_reads_artifacts_and_writes_only_capture(inv: Inventory) -> None:
    docs = [json.loads(r.inputs["policy"]) for r in inv.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert iam_eval.allows(docs, "s3:GetObject", "arn:aws:s3:::prod-artifacts/artifacts/1/models/m/MLmodel")
    assert not iam_eval.allows(docs, "s3:PutObject", "arn:aws:s3:::prod-artifacts/artifacts/1/models/m/MLmodel")
    assert iam_eval.allows(docs, "s3:PutObject", "arn:aws:s3:::prod-shared/sagemaker-capture/churn/x.jsonl")
    assert not iam_eval.allows(docs, "s3:PutObject", "arn:aws:s3:::prod-shared/other/x")


def test_data_capture_is_encrypted_and_the_endpoint_autoscales(inv: Inventory) -> None:
    config = _by_name(inv, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "churn")
    capture: Any = config["dataCaptureConfig"]
    assert capture["enableCapture"] and capture["kmsKeyId"].startswith("arn:aws:kms:")
    assert capture["destinationS3Uri"] == "s3://prod-shared/sagemaker-capture/churn"
    assert {o["captureMode"] for o in capture["captureOptions"]} == {"Input", "Output"}
    endpoint = _by_name(inv, "aws:sagemaker/endpoint:Endpoint", "churn")
    target = _by_name(inv, "aws:appautoscaling/target:Target", "churn")
    assert target["resourceId"] == f"endpoint/{endpoint['name']}/variant/AllTraffic"
    assert (target["minCapacity"], target["maxCapacity"]) == (1, 3)
    policy: Any = _by_name(inv, "aws:appautoscaling/policy:Policy", "churn")
    spec = policy["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"]
    assert spec["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_every_policy_document_has_unique_sids(inv: Inventory) -> None:
    records = [*inv.of_type("aws:iam/rolePolicy:RolePolicy"), *inv.of_type("aws:iam/role:Role")]
    docs = [json.loads(r.inputs[key]) for r in records
            for key in ("policy", "assumeRolePolicy") if key in r.inputs]
    assert len(docs) >= 2
    for doc in docs:
        sids = [s["Sid"] for s in doc["Statement"] if "Sid" in s]
        assert sids and len(sids) == len(set(sids)), sids


@pytest.mark.parametrize(("instance_type", "local"), [
    ("ml.m5.large", False), ("ml.c5.xlarge", False), ("ml.p3.2xlarge", False), ("ml.inf2.xlarge", False),
    ("ml.g4dn.xlarge", True), ("ml.g5.2xlarge", True), ("ml.p4d.24xlarge", True), ("ml.m5d.large", True),
    ("ml.p5.48xlarge", True), ("ml.c6id.large", True)])
def test_local_nvme_instance_types_are_recognised(instance_type: str, local: bool) -> None:
    assert has_local_storage(instance_type) is local


def test_the_storage_volume_key_is_set_only_where_create_endpoint_config_accepts_it(inv: Inventory) -> None:
    typ = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    assert str(_by_name(inv, typ, "churn")["kmsKeyArn"]).startswith("arn:aws:kms:")  # ml.m5.large: EBS volume
    ranker: Any = _by_name(inv, typ, "ranker")  # ml.g5.2xlarge: local NVMe
    assert not ranker.get("kmsKeyArn")
    assert ranker["dataCaptureConfig"]["kmsKeyId"].startswith("arn:aws:kms:"), "capture stays encrypted"


def test_models_run_in_the_private_subnets_with_an_egress_only_group(inv: Inventory) -> None:
    (group,) = inv.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert not inv.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    (egress,) = inv.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert (egress.inputs["fromPort"], egress.inputs["toPort"]) == (443, 443)
    models = inv.of_type("aws:sagemaker/model:Model")
    assert len(models) == 2
    for model in models:
        assert model.inputs["vpcConfig"] == {"subnets": ["subnet-0a", "subnet-0b"],
                                             "securityGroupIds": [group.id]}, model.name


def test_the_role_can_attach_network_interfaces_in_the_vpc(inv: Inventory) -> None:
    """With a VpcConfig SageMaker creates ENIs as the execution role: every action host-vpc.md lists is allowed."""
    from mlops_infra.serving.sagemaker_serving import VPC_ACTIONS
    (model,) = [r for r in inv.of_type("aws:sagemaker/model:Model") if r.name.startswith("prod-serving-churn")]
    assert model.inputs["vpcConfig"]["subnets"]
    docs = [json.loads(r.inputs["policy"]) for r in inv.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert len(VPC_ACTIONS) == 10
    for action in VPC_ACTIONS:
        assert iam_eval.allows(docs, action, "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-0a"), action
    assert not iam_eval.allows(docs, "ec2:RunInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-0a")


def test_a_new_instance_type_replaces_the_endpoint_and_its_scaling_target(inv: Inventory) -> None:
    """UpdateEndpoint refuses an instance type change on a variant registered for autoscaling: the instance type is
    part of the endpoint's name (a replace-on-change property), so the endpoint, and the target and policy whose
    resource id names it, are replaced together instead."""
    from mlops_infra.serving.sagemaker_serving import endpoint_name
    endpoint = _by_name(inv, "aws:sagemaker/endpoint:Endpoint", "churn")
    config = _by_name(inv, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "churn")
    (variant,) = config["productionVariants"]
    assert endpoint["name"] == endpoint_name("prod-serving-churn", variant["instanceType"])
    other = endpoint_name("prod-serving-churn", "ml.c5.4xlarge")
    assert other != endpoint["name"] and len(other) <= 63
    target = _by_name(inv, "aws:appautoscaling/target:Target", "churn")
    assert target["resourceId"].split("/")[1] == endpoint["name"]
    long = endpoint_name("x" * 80, "ml.m5.large")
    assert len(long) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", long)
