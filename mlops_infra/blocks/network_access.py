"""Data stores inside the VPC admit exactly one client security group (the EKS cluster's) on one port."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .naming import child, opts


def cluster_only_security_group(
    name: str,
    parent: pulumi.Resource,
    *,
    vpc_id: pulumi.Input[str],
    client_security_group_id: pulumi.Input[str],
    port: int,
    service: str,
    tags: dict[str, str],
) -> aws.ec2.SecurityGroup:
    """`<name>-sg` with one ingress rule `<name>-from-cluster`: TCP `port` from `client_security_group_id` only."""
    group = aws.ec2.SecurityGroup(
        child(name, "sg"), vpc_id=vpc_id, description=f"{name}: {service} from the EKS cluster only",
        tags=tags, opts=opts(parent))
    aws.vpc.SecurityGroupIngressRule(
        child(name, "from-cluster"), security_group_id=group.id, referenced_security_group_id=client_security_group_id,
        ip_protocol="tcp", from_port=port, to_port=port, description=f"{service} from the EKS cluster",
        tags=tags, opts=opts(parent))
    return group
