"""Network config: a new VPC across N AZs, or an existing VPC named by id."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from ..config.base import ConfigModel, Problem
from ..config.types import Ipv4Cidr, LogRetentionDays

NatMode = Literal["single", "perAz", "none"]

# Interface endpoints a private cluster needs so nodes can pull images, get credentials and register without NAT.
PRIVATE_CLUSTER_ENDPOINTS: tuple[str, ...] = (
    "ecr.api", "ecr.dkr", "sts", "ec2", "logs", "elasticloadbalancing", "autoscaling")
MIN_PUBLIC_SUBNET_PREFIX = 27  # an ELB needs at least 8 free addresses in each subnet (/27)
MAX_SUBNET_PREFIX = 28  # the smallest subnet AWS allows


class FlowLogsConfig(ConfigModel):
    """VPC flow logs to a KMS-encrypted CloudWatch log group."""

    enabled: bool = Field(True, description="Send VPC flow logs to CloudWatch. Default: true.")
    retention_days: LogRetentionDays = Field(
        365, description="Flow log retention in days. Default: 365 (profiles: dev 30, staging 90, prod 365)."
    )
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = Field("ALL", description="Traffic captured. Default: ALL.")


class ExistingVpcConfig(ConfigModel):
    """Use a VPC the platform does not own. Subnets must already carry the EKS/ELB tags; `network.vpcCidr` must be
    the VPC's CIDR (other components use it for security-group rules)."""

    vpc_id: str = Field(..., pattern=r"^vpc-[0-9a-f]{8,17}$", description="Id of the existing VPC. Required.")
    private_subnet_ids: list[str] = Field(
        ..., min_length=2, description="Private subnet ids, one per AZ (at least 2). Required."
    )
    public_subnet_ids: list[str] = Field(default_factory=list, description="Public subnet ids. Default: none.")
    s3_gateway_endpoint_id: str | None = Field(
        None, pattern=r"^vpce-[0-9a-f]{8,17}$",
        description="The VPC's S3 gateway endpoint, serving the private subnets' route tables. Default: none; "
        "required when securityBaseline.exfiltrationGuards is true (data buckets deny access outside it).")
    dynamodb_gateway_endpoint_id: str | None = Field(
        None, pattern=r"^vpce-[0-9a-f]{8,17}$",
        description="The VPC's DynamoDB gateway endpoint. Default: none; required when egress-guarded pods use "
        "DynamoDB (Feast's online store).")
    interface_endpoint_ids: dict[str, str] = Field(
        default_factory=dict,
        description="The VPC's interface endpoints with private DNS, by service (`sts`, `athena`, `glue`) -> "
        "endpoint id. Default: none; those egress-guarded pods call are required (a NetworkPolicy admits the VPC "
        "CIDR, not a service's public addresses).")

    def problems(self) -> Iterable[Problem]:
        for field, ids in (("privateSubnetIds", self.private_subnet_ids), ("publicSubnetIds", self.public_subnet_ids)):
            for i, sid in enumerate(ids):
                if not sid.startswith("subnet-"):
                    yield f"{field}[{i}]", f"not a subnet id ({sid!r})"
        for service, eid in self.interface_endpoint_ids.items():
            if not eid.startswith("vpce-"):
                yield f"interfaceEndpointIds.{service}", f"not a VPC endpoint id ({eid!r})"
        overlap = sorted(set(self.private_subnet_ids) & set(self.public_subnet_ids))
        if overlap:
            yield "publicSubnetIds", f"also listed as private: {', '.join(overlap)}"


class SubnetPlan(ConfigModel):
    """The CIDRs carved out of the VPC: private subnets first (large: pods take VPC addresses), then public."""

    private: list[str] = Field(..., description="Private subnet CIDRs, one per AZ.")
    public: list[str] = Field(..., description="Public subnet CIDRs, one per AZ.")


def carve_subnets(vpc_cidr: str, az_count: int, private_prefix: int, public_prefix: int) -> SubnetPlan | None:
    """Allocate `az_count` private then `az_count` public subnets, each aligned to its size; None if they don't fit."""
    vpc = ipaddress.ip_network(vpc_cidr)
    if not vpc.prefixlen < private_prefix <= MAX_SUBNET_PREFIX or not vpc.prefixlen < public_prefix <= MAX_SUBNET_PREFIX:
        return None
    cursor = int(vpc.network_address)
    end = int(vpc.broadcast_address) + 1
    carved: list[list[str]] = []
    for prefix in (private_prefix, public_prefix):
        size = 2 ** (32 - prefix)
        cidrs: list[str] = []
        for _ in range(az_count):
            cursor = -(-cursor // size) * size  # align up to the subnet's size
            if cursor + size > end:
                return None
            cidrs.append(f"{ipaddress.ip_address(cursor)}/{prefix}")
            cursor += size
        carved.append(cidrs)
    return SubnetPlan(private=carved[0], public=carved[1])


class NetworkConfig(ConfigModel):
    """The platform VPC."""

    vpc_cidr: Ipv4Cidr = Field("10.0.0.0/16", description="VPC IPv4 CIDR (/16 to /20). Default: 10.0.0.0/16.")
    az_count: int = Field(3, ge=2, le=6, description="Availability zones used (2-6). Default: 3 (profile: dev 2).")
    availability_zones: list[str] | None = Field(
        None, description="Zone names to use, exactly azCount of them. Default: the region's first azCount zones.")
    private_subnet_prefix: int | None = Field(
        None, description="Prefix length of each private subnet. Default: the VPC prefix + 3 (a /16 gives /19s).")
    public_subnet_prefix: int | None = Field(
        None, description="Prefix length of each public subnet (at most /27). Default: the VPC prefix + 6 (/22 in a /16).")
    nat_gateways: NatMode = Field(
        "perAz",
        description="NAT gateways: `single` or `perAz` (`none` is refused for a created VPC: the platform's images "
        "come from public registries no VPC endpoint reaches). Default: perAz (profiles: dev/staging single).",
    )
    flow_logs: FlowLogsConfig = Field(default_factory=FlowLogsConfig, description="VPC flow logs.")
    existing_vpc: ExistingVpcConfig | None = Field(
        None, description="Use this existing VPC instead of creating one. Default: none (create a VPC)."
    )

    @property
    def effective_private_subnet_prefix(self) -> int:
        if self.private_subnet_prefix is not None:
            return self.private_subnet_prefix
        return ipaddress.ip_network(self.vpc_cidr).prefixlen + 3

    @property
    def effective_public_subnet_prefix(self) -> int:
        if self.public_subnet_prefix is not None:
            return self.public_subnet_prefix
        return min(ipaddress.ip_network(self.vpc_cidr).prefixlen + 6, MIN_PUBLIC_SUBNET_PREFIX)

    @property
    def nat_gateway_count(self) -> int:
        return {"single": 1, "perAz": self.az_count, "none": 0}[self.nat_gateways]

    def subnet_plan(self) -> SubnetPlan:
        """The subnet CIDRs (validation guarantees they fit)."""
        plan = carve_subnets(self.vpc_cidr, self.az_count, self.effective_private_subnet_prefix,
                             self.effective_public_subnet_prefix)
        if plan is None:
            raise ValueError(f"subnets do not fit in {self.vpc_cidr}")
        return plan

    def problems(self) -> Iterable[Problem]:
        prefix = ipaddress.ip_network(self.vpc_cidr).prefixlen
        if not 16 <= prefix <= 20:
            yield "vpcCidr", f"prefix length must be between /16 and /20 (got /{prefix})"
            return
        if self.existing_vpc is not None and len(self.existing_vpc.private_subnet_ids) < self.az_count:
            yield (
                "existingVpc.privateSubnetIds",
                f"needs one subnet per AZ ({len(self.existing_vpc.private_subnet_ids)} < azCount {self.az_count})",
            )
        if self.availability_zones is not None:
            if len(self.availability_zones) != self.az_count:
                yield ("availabilityZones",
                       f"must name exactly azCount zones ({len(self.availability_zones)} != {self.az_count})")
            if len(set(self.availability_zones)) != len(self.availability_zones):
                yield "availabilityZones", "duplicate zones"
        private, public = self.effective_private_subnet_prefix, self.effective_public_subnet_prefix
        bad = False
        for field, value, upper in (("privateSubnetPrefix", private, MAX_SUBNET_PREFIX),
                                    ("publicSubnetPrefix", public, MIN_PUBLIC_SUBNET_PREFIX)):
            if not prefix < value <= upper:
                bad = True
                yield field, f"must be between /{prefix + 1} and /{upper} for a /{prefix} VPC (got /{value})"
        if not bad and self.existing_vpc is None and carve_subnets(self.vpc_cidr, self.az_count, private, public) is None:
            yield ("vpcCidr", f"{self.az_count} private /{private} and {self.az_count} public /{public} subnets "
                              f"do not fit in {self.vpc_cidr}")
