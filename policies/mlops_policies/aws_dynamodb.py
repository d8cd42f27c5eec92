"""DynamoDB tables (e.g. a Feast online store): PITR, customer KMS key, deletion protection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, known, resource_policy

TABLE = "aws:dynamodb/table:Table"


@resource_policy(
    "mlops-dynamodb-pitr",
    types=[TABLE],
    description="DynamoDB tables have point-in-time recovery on.",
    severity="medium", pack="mlops-compliance",
    controls=("CKV_AWS_28", "FSBP DynamoDB.2", "SOC2 A1.2", "ISO27001 A.8.13"),
    remediation="Set point_in_time_recovery={'enabled': True}.",
)
def pitr(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if known(res.get("pointInTimeRecovery", "enabled"), "pointInTimeRecovery.enabled") is not True:
        yield "point-in-time recovery is off"


@resource_policy(
    "mlops-dynamodb-kms",
    types=[TABLE],
    description="DynamoDB tables are encrypted with a customer-managed KMS key.",
    severity="medium", pack="mlops-security",
    controls=("CKV_AWS_119", "SOC2 CC6.1", "ISO27001 A.8.24", "PCI-DSS 3.5.1"),
    remediation="Set server_side_encryption={'enabled': True, 'kms_key_arn': <customer-managed key ARN>}.",
)
def kms(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    sse = known(res.get("serverSideEncryption"), "serverSideEncryption") or {}
    if known(sse.get("enabled"), "serverSideEncryption.enabled") is not True:
        yield "table uses the AWS-owned key; enable serverSideEncryption with a customer-managed key"
    elif not known(sse.get("kmsKeyArn"), "serverSideEncryption.kmsKeyArn"):
        yield "table uses the AWS-managed aws/dynamodb key; set serverSideEncryption.kmsKeyArn"


@resource_policy(
    "mlops-dynamodb-deletion-protection",
    types=[TABLE],
    description="DynamoDB tables have deletion protection on.",
    severity="medium", pack="mlops-compliance",
    controls=("FSBP DynamoDB.6", "SOC2 A1.2", "ISO27001 A.8.13"),
    remediation="Set deletion_protection_enabled=True.",
)
def deletion_protection(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if known(res.get("deletionProtectionEnabled"), "deletionProtectionEnabled") is not True:
        yield "deletion protection is off"
