"""Data stores inside the VPC admit exactly one client security group (the EKS cluster's) on one port."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .naming import child, child_options
from .refs import StringList


@dataclass(frozen=True)
class PrivatePlacement:
    """Where a data store sits: private subnets of a VPC, reachable only from one client security group."""

    vpc_id: pulumi.Input[str]
    subnet_ids: StringList
    """Private subnets only: a list, or an Output of one."""
    client_security_group_id: pulumi.Input[str]
    """The only security group admitted (the EKS cluster security group)."""


def cluster_only_security_group(
    name: str, parent: pulumi.Resource, placement: PrivatePlacement, *, port: int, service: str, tags: dict[str, str],
) -> aws.ec2.SecurityGroup:
    """`<name>-sg` with one ingress rule `<name>-from-cluster`: TCP `port` from the placement's client group only."""
    group = aws.ec2.SecurityGroup(
        child(name, "sg"), vpc_id=placement.vpc_id, description=f"{name}: {service} from the EKS cluster only",
        tags=tags, opts=child_options(parent))
    aws.vpc.SecurityGroupIngressRule(
        child(name, "from-cluster"), security_group_id=group.id,
        referenced_security_group_id=placement.client_security_group_id,
        ip_protocol="tcp", from_port=port, to_port=port, description=f"{service} from the EKS cluster",
        tags=tags, opts=child_options(parent))
    return group
