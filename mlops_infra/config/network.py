"""Network config: a new VPC across N AZs, or an existing VPC named by id."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from .base import ConfigModel, Problem
from .types import Ipv4Cidr, LogRetentionDays

NatMode = Literal["single", "perAz", "none"]


class FlowLogsConfig(ConfigModel):
    """VPC flow logs to a KMS-encrypted CloudWatch log group."""

    enabled: bool = Field(True, description="Send VPC flow logs to CloudWatch. Default: true.")
    retention_days: LogRetentionDays = Field(
        365, description="Flow log retention in days. Default: 365 (profiles: dev 30, staging 90, prod 365)."
    )
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = Field("ALL", description="Traffic captured. Default: ALL.")


class ExistingVpcConfig(ConfigModel):
    """Use a VPC the platform does not own. Subnets must already carry the EKS/ELB tags."""

    vpc_id: str = Field(..., pattern=r"^vpc-[0-9a-f]{8,17}$", description="Id of the existing VPC. Required.")
    private_subnet_ids: list[str] = Field(
        ..., min_length=2, description="Private subnet ids, one per AZ (at least 2). Required."
    )
    public_subnet_ids: list[str] = Field(default_factory=list, description="Public subnet ids. Default: none.")

    def problems(self) -> Iterable[Problem]:
        for field, ids in (("privateSubnetIds", self.private_subnet_ids), ("publicSubnetIds", self.public_subnet_ids)):
            for i, sid in enumerate(ids):
                if not sid.startswith("subnet-"):
                    yield f"{field}[{i}]", f"not a subnet id ({sid!r})"


class NetworkConfig(ConfigModel):
    """The platform VPC."""

    vpc_cidr: Ipv4Cidr = Field("10.0.0.0/16", description="VPC IPv4 CIDR (/16 to /20). Default: 10.0.0.0/16.")
    az_count: int = Field(3, ge=2, le=6, description="Availability zones used (2-6). Default: 3 (profile: dev 2).")
    nat_gateways: NatMode = Field(
        "perAz",
        description="NAT gateways: `single`, `perAz` or `none`. Default: perAz (profiles: dev/staging single).",
    )
    flow_logs: FlowLogsConfig = Field(default_factory=FlowLogsConfig, description="VPC flow logs.")
    existing_vpc: ExistingVpcConfig | None = Field(
        None, description="Use this existing VPC instead of creating one. Default: none (create a VPC)."
    )

    def problems(self) -> Iterable[Problem]:
        prefix = ipaddress.ip_network(self.vpc_cidr).prefixlen
        if not 16 <= prefix <= 20:
            yield "vpcCidr", f"prefix length must be between /16 and /20 (got /{prefix})"
        if self.existing_vpc is not None and len(self.existing_vpc.private_subnet_ids) < self.az_count:
            yield (
                "existingVpc.privateSubnetIds",
                f"needs one subnet per AZ ({len(self.existing_vpc.private_subnet_ids)} < azCount {self.az_count})",
            )
