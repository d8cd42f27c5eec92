"""Constrained scalar types shared by the config models."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

# CloudWatch Logs accepts only these retention values.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not a valid CIDR block ({value!r})") from exc
    return str(net)


def _ipv4_cidr(value: str) -> str:
    value = _cidr(value)
    if ipaddress.ip_network(value).version != 4:
        raise ValueError(f"must be an IPv4 CIDR block ({value!r})")
    return value


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be a CloudWatch Logs retention value, one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


def _bucket_name(value: str) -> str:
    """S3 general purpose bucket names (S3 user guide, "Bucket naming rules"): 3-63 of a-z 0-9 . -, a letter or
    digit at both ends, no `..`, not starting with `xn--`."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value) or ".." in value or value.startswith("xn--"):
        raise ValueError(f"not a valid S3 bucket name ({value!r}: 3-63 characters a-z, 0-9, '.', '-')")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
LogRetentionDays = Annotated[int, AfterValidator(_retention)]
AwsRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]
IamRoleArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")]
AcmCertificateArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$")]
# RFC 1123 label, as Kubernetes requires for namespaces and most object names.
K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
S3BucketName = Annotated[str, AfterValidator(_bucket_name)]
ResourceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")]
BucketNamePrefix = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,35}[a-z0-9]$")]
"""The start of S3 bucket names Pulumi autonames `<prefix>-<random>` (lowercase letters, digits, hyphens)."""
# A key in the stack's `mlops` config namespace that holds a Pulumi secret (set with `pulumi config set --secret`).
SecretConfigKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
ChartVersion = Annotated[str, StringConstraints(pattern=r"^v?\d+\.\d+\.\d+([-+][\w.]+)?$")]
ImageRef = Annotated[
    str,
    StringConstraints(pattern=r"^[\w.-]+(:\d+)?(/[\w.-]+)+(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$"),
    Field(description="A container image pinned by tag or digest."),
]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")]
"""An EC2 security group id (`sg-` and 8 or 17 hex digits)."""
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]
Percent = Annotated[float, Field(ge=0, le=100)]
