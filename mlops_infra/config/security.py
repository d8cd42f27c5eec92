"""Security baseline config: audit trail, threat detection, secrets delivery and exfiltration guards."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from .base import ConfigModel, Problem
from .types import ChartVersion, IamRoleArn, K8sName, SecretConfigKey


class IntegrationSecret(ConfigModel):
    """A third-party credential delivered from Secrets Manager into team namespaces by External Secrets."""

    name: K8sName = Field(..., description="Secret name in Secrets Manager and Kubernetes. Required.")
    config_key: SecretConfigKey = Field(..., description="Config key (secret) holding the value. Required.")
    namespaces: list[K8sName] = Field(..., min_length=1, description="Namespaces it is synced into. Required.")


class SecurityBaselineConfig(ConfigModel):
    enabled: bool = Field(True, description="Deploy the security baseline. Default: true (profile: dev false).")
    cloudtrail: bool = Field(True, description="Multi-region CloudTrail with S3 data events. Default: true.")
    guardduty: bool = Field(True, description="GuardDuty with EKS, runtime and S3 protection. Default: true.")
    access_analyzer: bool = Field(True, description="IAM Access Analyzer for the account. Default: true.")
    object_lock_days: int | None = Field(
        None, description="Object Lock (governance) retention for the trail bucket, 1-3650 days. Default: none.")
    external_secrets_version: ChartVersion = Field("0.20.4", description="external-secrets chart. Default: 0.20.4.")
    integration_secrets: list[IntegrationSecret] = Field(default_factory=list, description="Synced secrets.")
    exfiltration_guards: bool = Field(False, description="VPC-endpoint-only data buckets, egress NetworkPolicies. Default: false.")
    break_glass_role_arns: list[IamRoleArn] = Field(
        default_factory=list, description="Roles exempt from the VPC-endpoint bucket condition. Default: none.")

    def problems(self) -> Iterable[Problem]:
        if self.object_lock_days is not None and not 1 <= self.object_lock_days <= 3650:
            yield "objectLockDays", f"must be between 1 and 3650 (got {self.object_lock_days})"
