"""engine sagemaker: model from the artifact bucket (read-only), data capture encrypted, endpoint, autoscaling."""

from __future__ import annotations

import json

import pytest

from mlops_infra.config.platform import PlatformConfig
from mlops_infra.plan import Inventory
from mlops_infra.serving.config import SageMakerServingConfig
from tests import iam_eval
from tests.conftest import PROGRAMS, planned


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("test", PROGRAMS / "serving_sagemaker")


def test_serving_engine_is_a_discriminated_union() -> None:
    tags = {"owner": "ml", "costCenter": "cc"}
    cfg = PlatformConfig.model_validate({"environment": "dev", "tags": tags, "serving": {"engine": "sagemaker"}})
    assert isinstance(cfg.serving, SageMakerServingConfig)


def test_the_model_reads_the_uncompressed_model_from_the_artifact_bucket(inv: Inventory) -> None:
    (model,) = inv.of_type("aws:sagemaker/model:Model")
    (source,) = model.inputs["primaryContainer"]["modelDataSource"]["s3DataSources"]
    assert source == {"s3Uri": "s3://prod-artifacts/artifacts/1/models/m-5f0c2d9e8a7b4c3d/artifacts/",
                      "s3DataType": "S3Prefix", "compressionType": "None"}


def test_the_role_reads_artifacts_and_writes_only_capture(inv: Inventory) -> None:
    docs = [json.loads(r.inputs["policy"]) for r in inv.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert iam_eval.allows(docs, "s3:GetObject", "arn:aws:s3:::prod-artifacts/artifacts/1/models/m/MLmodel")
    assert not iam_eval.allows(docs, "s3:PutObject", "arn:aws:s3:::prod-artifacts/artifacts/1/models/m/MLmodel")
    assert iam_eval.allows(docs, "s3:PutObject", "arn:aws:s3:::prod-shared/sagemaker-capture/churn/x.jsonl")
    assert not iam_eval.allows(docs, "s3:PutObject", "arn:aws:s3:::prod-shared/other/x")


def test_data_capture_is_encrypted_and_the_endpoint_autoscales(inv: Inventory) -> None:
    (config,) = inv.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    capture = config.inputs["dataCaptureConfig"]
    assert capture["enableCapture"] and capture["kmsKeyId"].startswith("arn:aws:kms:")
    assert capture["destinationS3Uri"] == "s3://prod-shared/sagemaker-capture/churn"
    assert {o["captureMode"] for o in capture["captureOptions"]} == {"Input", "Output"}
    (endpoint,) = inv.of_type("aws:sagemaker/endpoint:Endpoint")
    (target,) = inv.of_type("aws:appautoscaling/target:Target")
    assert target.inputs["resourceId"] == f"endpoint/{endpoint.inputs['name']}/variant/AllTraffic"
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (1, 3)
    (policy,) = inv.of_type("aws:appautoscaling/policy:Policy")
    spec = policy.inputs["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"]
    assert spec["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
