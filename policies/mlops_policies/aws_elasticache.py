"""ElastiCache (Redis/Valkey) replication groups: encryption at rest and in transit, auth, failover."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, env_applies, known, resource_policy, truthy

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


@resource_policy(
    "mlops-elasticache-at-rest-encryption",
    types=[GROUP],
    description="ElastiCache replication groups encrypt data at rest with a customer-managed key.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_29", "CKV_AWS_191", "FSBP ElastiCache.4", "SOC2 CC6.1", "PCI-DSS 3.5.1"),
    remediation="Set at_rest_encryption_enabled=True and kms_key_id to a customer-managed key.",
)
def at_rest(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if truthy(known(res.get("atRestEncryptionEnabled"), "atRestEncryptionEnabled")) is not True:
        yield "encryption at rest is off"
    elif not known(res.get("kmsKeyId"), "kmsKeyId"):
        yield "encryption at rest uses the AWS-managed key; set kmsKeyId"


@resource_policy(
    "mlops-elasticache-in-transit-encryption",
    types=[GROUP],
    description="ElastiCache replication groups require TLS in transit.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_30", "FSBP ElastiCache.5", "SOC2 CC6.7", "PCI-DSS 4.2.1"),
    remediation="Set transit_encryption_enabled=True (transit_encryption_mode 'required').",
)
def in_transit(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if known(res.get("transitEncryptionEnabled"), "transitEncryptionEnabled") is not True:
        yield "encryption in transit is off"
    elif known(res.get("transitEncryptionMode"), "transitEncryptionMode") == "preferred":
        yield "transit encryption mode is preferred; plaintext clients can still connect"


@resource_policy(
    "mlops-elasticache-auth",
    types=[GROUP],
    description="ElastiCache replication groups require authentication (AUTH token or RBAC user groups).",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_31", "FSBP ElastiCache.6", "SOC2 CC6.1", "PCI-DSS 8.3.1"),
    remediation="Set auth_token from a Pulumi secret, or user_group_ids for Redis RBAC.",
)
def auth(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    token = res.get("authToken") or res.get("authTokenWo")
    groups = res.get("userGroupIds")
    if token or groups:
        return  # a secret token reads as unknown offline: present is enough
    yield "no AUTH token and no user groups: any client in the network can connect"


@resource_policy(
    "mlops-elasticache-automatic-failover",
    types=[GROUP],
    description="ElastiCache replication groups fail over automatically where the environment requires it.",
    severity="low", pack="mlops-compliance",
    controls=("CKV2_AWS_50", "FSBP ElastiCache.3", "SOC2 A1.2"),
    remediation="Set automatic_failover_enabled=True and multi_az_enabled=True with at least one replica.",
    config={"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"]}},
)
def automatic_failover(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    env_applies(config)
    if known(res.get("automaticFailoverEnabled"), "automaticFailoverEnabled") is not True:
        yield f"automatic failover is off in {config.get('environment')}"
