"""Network: world-open ingress, rule descriptions, VPC flow logs, the default security group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, Stack, as_list, dig, each, is_unknown, known, resource_policy, stack_policy

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer", "aws:elb/loadBalancer:LoadBalancer")
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
WORLD = ("0.0.0.0/0", "::/0")
WEB_PORTS = {80, 443}


def _open_ingress(res: Resource) -> list[tuple[int | None, int | None, str]]:
    """(from, to, cidr) of every world-open ingress this resource declares."""
    found: list[tuple[int | None, int | None, str]] = []
    if res.type == SECURITY_GROUP:
        for rule in known(res.get("ingress"), "ingress") or []:
            cidrs = [*as_list(dig(rule, "cidrBlocks")), *as_list(dig(rule, "ipv6CidrBlocks"))]
            for cidr in cidrs:
                if not is_unknown(cidr) and cidr in WORLD:
                    found.append((dig(rule, "fromPort"), dig(rule, "toPort"), cidr))
    elif res.type == INGRESS_RULE:
        for key in ("cidrIpv4", "cidrIpv6"):
            cidr = known(res.get(key), key)
            if cidr in WORLD:
                found.append((res.get("fromPort"), res.get("toPort"), cidr))
    elif res.type == LEGACY_RULE and known(res.get("type"), "type") == "ingress":
        for cidr in [*as_list(known(res.get("cidrBlocks"), "cidrBlocks")), *as_list(res.get("ipv6CidrBlocks"))]:
            if not is_unknown(cidr) and cidr in WORLD:
                found.append((res.get("fromPort"), res.get("toPort"), cidr))
    return found


def _ports(from_port: Any, to_port: Any) -> str:
    if from_port in (None, -1, 0) and to_port in (None, -1, 0, 65535):
        return "all ports"
    return f"port {from_port}" if from_port == to_port else f"ports {from_port}-{to_port}"


@stack_policy(
    "mlops-sg-no-world-ingress",
    description="Security groups allow no ingress from 0.0.0.0/0 or ::/0, except 80/443 on load balancers.",
    severity="critical", pack="mlops-security",
    controls=("CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277", "FSBP EC2.18", "FSBP EC2.19",
              "CIS-AWS 5.2", "SOC2 CC6.6", "PCI-DSS 1.3.1"),
    remediation="Restrict the rule to known CIDRs or security groups; only internet-facing load balancers may open 80/443.",
)
def no_world_ingress(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    lb_groups = {u for lb in stack.of_type(*LOAD_BALANCERS) for u in lb.property_dependencies.get("securityGroups", ())}

    def check(res: Resource) -> Iterable[str]:
        group_urn = res.urn if res.type == SECURITY_GROUP else next(
            iter(res.property_dependencies.get("securityGroupId", ())), None)
        for from_port, to_port, cidr in _open_ingress(res):
            web = from_port is not None and from_port == to_port and from_port in WEB_PORTS
            if web and group_urn in lb_groups:
                continue
            yield f"ingress from {cidr} on {_ports(from_port, to_port)}"

    return each(stack.of_type(SECURITY_GROUP, INGRESS_RULE, LEGACY_RULE), check)


@resource_policy(
    "mlops-sg-descriptions",
    types=[SECURITY_GROUP, INGRESS_RULE, LEGACY_RULE],
    description="Security groups and their rules carry a description that says why they exist.",
    severity="low", pack="mlops-compliance",
    controls=("CKV_AWS_23", "SOC2 CC8.1"),
    remediation="Set description on the security group and on each rule.",
)
def descriptions(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    desc = known(res.get("description"), "description")
    if not desc or desc == "Managed by Pulumi":
        yield "security group has no description" if res.type == SECURITY_GROUP else "rule has no description"
    if res.type == SECURITY_GROUP:
        for direction in ("ingress", "egress"):
            for i, rule in enumerate(known(res.get(direction), direction) or []):
                if not dig(rule, "description"):
                    yield f"{direction} rule {i} has no description"


@stack_policy(
    "mlops-vpc-flow-logs",
    description="Every VPC has flow logs.",
    severity="medium", pack="mlops-compliance",
    controls=("CKV2_AWS_11", "FSBP EC2.6", "CIS-AWS 3.7", "SOC2 CC7.2", "ISO27001 A.8.16", "PCI-DSS 10.2.1"),
    remediation="Add an aws.ec2.FlowLog with vpc_id=<vpc>.id, traffic_type 'ALL', to CloudWatch Logs or S3.",
)
def flow_logs(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(vpc: Resource) -> Iterable[str]:
        if not stack.referencing(vpc, [FLOW_LOG], "vpcId"):
            yield "VPC has no flow log"

    return each(stack.of_type(VPC), check)


@resource_policy(
    "mlops-vpc-default-sg-closed",
    types=[DEFAULT_SG],
    description="The default security group allows no traffic.",
    severity="medium", pack="mlops-security",
    controls=("CKV2_AWS_12", "FSBP EC2.2", "CIS-AWS 5.4", "SOC2 CC6.6", "PCI-DSS 1.3.1"),
    remediation="Manage the default security group with no ingress and no egress rules.",
)
def default_sg_closed(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    ingress = known(res.get("ingress"), "ingress") or []
    egress = known(res.get("egress"), "egress") or []
    if ingress or egress:
        yield f"default security group has {len(ingress)} ingress and {len(egress)} egress rules"
