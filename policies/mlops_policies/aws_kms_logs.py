"""KMS keys and CloudWatch log groups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, known, per_env, resource_policy

KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@resource_policy(
    "mlops-kms-key-rotation",
    types=[KEY],
    description="Symmetric customer-managed KMS keys rotate automatically.",
    severity="medium", pack="mlops-security",
    controls=("CKV_AWS_7", "AVD-AWS-0065", "CIS-AWS 3.6", "FSBP KMS.4", "PCI-DSS 3.6.4", "ISO27001 A.8.24"),
    remediation="Set enable_key_rotation=True on the aws.kms.Key.",
)
def key_rotation(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    spec = known(res.get("customerMasterKeySpec") or res.get("keySpec") or "SYMMETRIC_DEFAULT", "key spec")
    if spec != "SYMMETRIC_DEFAULT":
        return
    if known(res.get("enableKeyRotation"), "enableKeyRotation") is not True:
        yield "key rotation is off (enableKeyRotation)"


@resource_policy(
    "mlops-kms-key-policy",
    types=[KEY],
    description="KMS keys have an explicit key policy.",
    severity="low", pack="mlops-security",
    controls=("CKV2_AWS_64", "SOC2 CC6.1"),
    remediation="Pass an explicit key policy (policy=...) that names who administers and who uses the key.",
)
def key_policy(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if not known(res.get("policy"), "key policy"):
        yield "key has no explicit key policy (the default grants the whole account)"


@resource_policy(
    "mlops-logs-retention",
    types=[LOG_GROUP],
    description="CloudWatch log groups keep logs for at least the environment's minimum, and not forever.",
    severity="medium", pack="mlops-compliance",
    controls=("CKV_AWS_66", "CKV_AWS_338", "SOC2 CC7.2", "ISO27001 A.8.15", "PCI-DSS 10.5.1"),
    remediation="Set retention_in_days on the log group to at least the environment's minimum (prod: 365).",
    config={"minDays": {"type": "object", "description": "Minimum retention per environment.",
                        "default": {"dev": 7, "staging": 30, "prod": 365}}},
)
def log_retention(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    days = known(res.get("retentionInDays"), "retentionInDays")
    minimum = int(per_env(config, "minDays") or 0)
    if not days:
        yield "retention is not set (logs are kept forever)"
    elif int(days) < minimum:
        yield f"retention is {days} days; at least {minimum} required in {config.get('environment')}"


@resource_policy(
    "mlops-logs-kms",
    types=[LOG_GROUP],
    description="CloudWatch log groups are encrypted with a customer-managed KMS key.",
    severity="medium", pack="mlops-security",
    controls=("CKV_AWS_158", "SOC2 CC6.1", "ISO27001 A.8.24", "PCI-DSS 3.5.1"),
    remediation="Set kms_key_id on the log group to a customer-managed key whose policy allows logs.<region>.amazonaws.com.",
)
def log_kms(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if not known(res.get("kmsKeyId"), "kmsKeyId"):
        yield "log group is not encrypted with a customer-managed KMS key (kmsKeyId)"
