"""KMS key and CloudWatch log group policies."""

from __future__ import annotations

from mlops_policies.aws_kms_logs import KEY, LOG_GROUP

from .cases import Case, check, params
from .helpers import R

CASES = [
    Case("on", "mlops-kms-key-rotation", [R(KEY, "k", {"enableKeyRotation": True, "policy": "{}"})], []),
    Case("asymmetric-exempt", "mlops-kms-key-rotation", [R(KEY, "k", {"customerMasterKeySpec": "RSA_2048"})], []),
    Case("off", "mlops-kms-key-rotation", [R(KEY, "k", {})], ["k: key rotation is off (enableKeyRotation)"]),
    Case("unknown", "mlops-kms-key-rotation", [R(KEY, "k", {"enableKeyRotation": "[unknown]"})], []),
    Case("present", "mlops-kms-key-policy", [R(KEY, "k", {"policy": '{"Statement": []}'})], []),
    Case("missing", "mlops-kms-key-policy", [R(KEY, "k", {})],
         ["k: key has no explicit key policy (the default grants the whole account)"]),
    Case("prod-365", "mlops-logs-retention", [R(LOG_GROUP, "lg", {"retentionInDays": 365})], []),
    Case("dev-30", "mlops-logs-retention", [R(LOG_GROUP, "lg", {"retentionInDays": 30})], [], env="dev"),
    Case("prod-30", "mlops-logs-retention", [R(LOG_GROUP, "lg", {"retentionInDays": 30})],
         ["lg: retention is 30 days; at least 365 required in prod"]),
    Case("forever", "mlops-logs-retention", [R(LOG_GROUP, "lg", {})], ["lg: retention is not set (logs are kept forever)"]),
    Case("configured-minimum", "mlops-logs-retention", [R(LOG_GROUP, "lg", {"retentionInDays": 90})],
         ["lg: retention is 90 days; at least 400 required in prod"], config={"minDays": {"prod": 400}}),
    Case("cmk", "mlops-logs-kms", [R(LOG_GROUP, "lg", {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/x"})], []),
    Case("none", "mlops-logs-kms", [R(LOG_GROUP, "lg", {})],
         ["lg: log group is not encrypted with a customer-managed KMS key (kmsKeyId)"]),
]


@params(CASES)
def test_kms_logs(case: Case) -> None:
    check(case)
