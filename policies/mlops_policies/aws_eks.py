"""EKS control plane: endpoint exposure, secrets encryption, control-plane logs, supported version."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, dig, known, resource_policy

CLUSTER = "aws:eks/cluster:Cluster"
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


@resource_policy(
    "mlops-eks-private-endpoint",
    types=[CLUSTER],
    description="EKS clusters enable the private API endpoint so nodes reach the API inside the VPC.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_39", "FSBP EKS.1", "CIS-EKS 5.4.2", "SOC2 CC6.6"),
    remediation="Set vpc_config.endpoint_private_access=True.",
)
def private_endpoint(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if known(res.get("vpcConfig", "endpointPrivateAccess"), "endpointPrivateAccess") is not True:
        yield "private endpoint access is off (vpcConfig.endpointPrivateAccess)"


@resource_policy(
    "mlops-eks-public-endpoint-restricted",
    types=[CLUSTER],
    description="EKS public API endpoints are off, or restricted to named CIDRs.",
    severity="critical", pack="mlops-security",
    controls=("CKV_AWS_38", "CKV_AWS_39", "FSBP EKS.1", "CIS-EKS 5.4.1", "SOC2 CC6.6", "PCI-DSS 1.3.1"),
    remediation="Set vpc_config.endpoint_public_access=False, or list the deployer/office CIDRs in public_access_cidrs.",
)
def public_endpoint(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    public = known(res.get("vpcConfig", "endpointPublicAccess"), "endpointPublicAccess")
    if public is False:
        return
    cidrs = known(res.get("vpcConfig", "publicAccessCidrs"), "publicAccessCidrs") or []
    if not cidrs:
        yield "public endpoint is open to 0.0.0.0/0 (no publicAccessCidrs)"
    for cidr in cidrs:
        if cidr in OPEN_CIDRS:
            yield f"public endpoint allows {cidr}"


@resource_policy(
    "mlops-eks-secrets-encryption",
    types=[CLUSTER],
    description="EKS clusters envelope-encrypt Kubernetes secrets with a customer-managed KMS key.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_58", "CIS-EKS 5.3.1", "FSBP EKS.3", "SOC2 CC6.1", "ISO27001 A.8.24", "PCI-DSS 3.5.1"),
    remediation="Set encryption_config={'provider': {'key_arn': <cmk arn>}, 'resources': ['secrets']}.",
)
def secrets_encryption(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    enc = known(res.get("encryptionConfig"), "encryptionConfig")
    resources = known(dig(enc, "resources"), "encryptionConfig.resources") or []
    if not enc or "secrets" not in resources:
        yield "secrets are not envelope-encrypted (encryptionConfig with resources ['secrets'])"
    elif not known(dig(enc, "provider", "keyArn"), "encryptionConfig.provider.keyArn"):
        yield "secrets encryption has no KMS key (encryptionConfig.provider.keyArn)"


@resource_policy(
    "mlops-eks-control-plane-logging",
    types=[CLUSTER],
    description="EKS clusters send all five control-plane log types to CloudWatch.",
    severity="medium", pack="mlops-compliance",
    controls=("CKV_AWS_37", "FSBP EKS.8", "CIS-EKS 2.1.1", "SOC2 CC7.2", "ISO27001 A.8.15", "PCI-DSS 10.2.1"),
    remediation=f"Set enabled_cluster_log_types={list(LOG_TYPES)}.",
)
def control_plane_logging(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    enabled = known(res.get("enabledClusterLogTypes"), "enabledClusterLogTypes") or []
    missing = [t for t in LOG_TYPES if t not in enabled]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


@resource_policy(
    "mlops-eks-supported-version",
    types=[CLUSTER],
    description="EKS clusters run a Kubernetes version in standard support.",
    severity="medium", pack="mlops-compliance",
    controls=("CKV_AWS_339", "FSBP EKS.2", "SOC2 CC7.1", "PCI-DSS 6.3.3"),
    remediation="Upgrade the cluster to a supported version (see supportedVersions in the policy config).",
    # EKS standard-support versions, Nov 2026 (AWS EKS Kubernetes version lifecycle page; peers pin 1.33-1.35).
    config={"supportedVersions": {"type": "array", "items": {"type": "string"},
                                  "default": ["1.33", "1.34", "1.35"]}},
)
def supported_version(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    version = known(res.get("version"), "version")
    supported = list(config.get("supportedVersions") or [])
    if version is None:
        return  # unset: EKS creates the newest default version
    minor = ".".join(str(version).split(".")[:2])
    if minor not in supported:
        yield f"Kubernetes {version} is not in standard support (supported: {', '.join(supported)})"
