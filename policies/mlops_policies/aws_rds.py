"""RDS instances and Aurora clusters: encryption, exposure, durability, authentication, logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, env_applies, known, per_env, resource_policy

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
BOTH = (INSTANCE, CLUSTER)


def _aurora_member(res: Resource) -> bool:
    """Aurora instances take encryption, backups and IAM auth from their cluster."""
    engine = res.get("engine")
    return res.type == INSTANCE and (bool(res.get("clusterIdentifier")) or (isinstance(engine, str) and engine.startswith("aurora")))


@resource_policy(
    "mlops-rds-encrypted-cmk",
    types=BOTH,
    description="RDS storage is encrypted with a customer-managed KMS key.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_16", "FSBP RDS.3", "SOC2 CC6.1", "ISO27001 A.8.24", "PCI-DSS 3.5.1"),
    remediation="Set storage_encrypted=True and kms_key_id to a customer-managed key (set at creation; "
                "encrypting later needs a snapshot restore).",
)
def encrypted(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if _aurora_member(res):
        return
    if known(res.get("storageEncrypted"), "storageEncrypted") is not True:
        yield "storage is not encrypted (storageEncrypted)"
    elif not known(res.get("kmsKeyId"), "kmsKeyId"):
        yield "storage uses the AWS-managed aws/rds key; set kmsKeyId to a customer-managed key"


@resource_policy(
    "mlops-rds-not-public",
    types=[INSTANCE],
    description="RDS instances are not publicly accessible.",
    severity="critical", pack="mlops-security",
    controls=("CKV_AWS_17", "FSBP RDS.2", "SOC2 CC6.6", "PCI-DSS 1.4.4"),
    remediation="Set publicly_accessible=False and use a private DB subnet group.",
)
def not_public(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if known(res.get("publiclyAccessible"), "publiclyAccessible") is True:
        yield "instance is publicly accessible"


@resource_policy(
    "mlops-rds-deletion-protection",
    types=BOTH,
    description="RDS databases have deletion protection on.",
    severity="medium", pack="mlops-compliance",
    controls=("CKV_AWS_293", "FSBP RDS.8", "SOC2 A1.2", "ISO27001 A.8.13"),
    remediation="Set deletion_protection=True (and Pulumi protect/retain_on_delete on the resource).",
)
def deletion_protection(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if _aurora_member(res):
        return
    if known(res.get("deletionProtection"), "deletionProtection") is not True:
        yield "deletion protection is off"


@resource_policy(
    "mlops-rds-backup-retention",
    types=BOTH,
    description="RDS automated backups are kept for at least the environment's minimum number of days.",
    severity="medium", pack="mlops-compliance",
    controls=("CKV_AWS_133", "FSBP RDS.11", "SOC2 A1.2", "ISO27001 A.8.13", "PCI-DSS 12.10.1"),
    remediation="Set backup_retention_period to at least the minimum (see minDays in the policy config).",
    config={"minDays": {"type": "object", "description": "Minimum backup retention per environment.",
                        "default": {"dev": 1, "staging": 7, "prod": 7}}},
)
def backup_retention(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if _aurora_member(res):
        return
    days = known(res.get("backupRetentionPeriod"), "backupRetentionPeriod")
    days = 1 if days is None else int(days)  # the provider's default is 1 day (RDS API default, also for clusters)
    minimum = int(per_env(config, "minDays") or 1)
    if days < minimum:
        yield f"backups are kept {days} days; at least {minimum} required in {config.get('environment')}"


@resource_policy(
    "mlops-rds-multi-az",
    types=[INSTANCE],
    description="RDS instances are multi-AZ where the environment requires it (prod by default).",
    severity="medium", pack="mlops-compliance",
    controls=("CKV_AWS_157", "FSBP RDS.5", "SOC2 A1.2", "ISO27001 A.8.14"),
    remediation="Set multi_az=True.",
    config={"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"]}},
)
def multi_az(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    env_applies(config)
    if _aurora_member(res):
        return
    if known(res.get("multiAz"), "multiAz") is not True:
        yield f"instance is single-AZ in {config.get('environment')}"


@resource_policy(
    "mlops-rds-iam-auth",
    types=BOTH,
    description="RDS databases accept IAM authentication, so workloads need no static password.",
    severity="medium", pack="mlops-security",
    controls=("CKV_AWS_161", "FSBP RDS.10", "SOC2 CC6.1", "PCI-DSS 8.3.1"),
    remediation="Set iam_database_authentication_enabled=True and grant rds-db:connect to the workload role.",
)
def iam_auth(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if _aurora_member(res):
        return
    if known(res.get("iamDatabaseAuthenticationEnabled"), "iamDatabaseAuthenticationEnabled") is not True:
        yield "IAM database authentication is off"


@resource_policy(
    "mlops-rds-log-exports",
    types=BOTH,
    description="RDS databases export their logs to CloudWatch.",
    severity="low", pack="mlops-compliance",
    controls=("CKV_AWS_129", "SOC2 CC7.2", "ISO27001 A.8.15", "PCI-DSS 10.2.1"),
    remediation="Set enabled_cloudwatch_logs_exports (postgres: ['postgresql', 'upgrade']).",
)
def log_exports(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if _aurora_member(res):
        return
    if not known(res.get("enabledCloudwatchLogsExports"), "enabledCloudwatchLogsExports"):
        yield "no logs are exported to CloudWatch (enabledCloudwatchLogsExports)"


@resource_policy(
    "mlops-rds-auto-minor-upgrade",
    types=[INSTANCE],
    description="RDS instances take automatic minor version upgrades (security patches).",
    severity="low", pack="mlops-compliance",
    controls=("CKV_AWS_226", "FSBP RDS.13", "SOC2 CC7.1", "PCI-DSS 6.3.3"),
    remediation="Leave auto_minor_version_upgrade unset or True.",
)
def auto_minor_upgrade(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if known(res.get("autoMinorVersionUpgrade"), "autoMinorVersionUpgrade") is False:
        yield "automatic minor version upgrades are off"


@resource_policy(
    "mlops-rds-performance-insights-kms",
    types=BOTH,
    description="Performance Insights data is encrypted with a customer-managed KMS key.",
    severity="low", pack="mlops-security",
    controls=("CKV_AWS_354", "SOC2 CC6.1"),
    remediation="Set performance_insights_kms_key_id when performance_insights_enabled is True.",
)
def performance_insights_kms(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if known(res.get("performanceInsightsEnabled"), "performanceInsightsEnabled") is not True:
        return
    if not known(res.get("performanceInsightsKmsKeyId"), "performanceInsightsKmsKeyId"):
        yield "Performance Insights uses the AWS-managed key (performanceInsightsKmsKeyId)"
