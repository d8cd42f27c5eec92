"""Network policies: world ingress (load balancer exception joined by dependency), descriptions, flow logs."""

from __future__ import annotations

from mlops_policies.aws_network import DEFAULT_SG, FLOW_LOG, INGRESS_RULE, LEGACY_RULE, SECURITY_GROUP, VPC

from .cases import Case, check, params
from .helpers import R

LB = "aws:lb/loadBalancer:LoadBalancer"


def web_rule(port: int) -> R:
    return R(INGRESS_RULE, f"web-{port}", {"cidrIpv4": "0.0.0.0/0", "fromPort": port, "toPort": port,
                                           "ipProtocol": "tcp", "description": "public web"},
             {"securityGroupId": ["lb-sg"]})


CASES = [
    Case("internal", "mlops-sg-no-world-ingress", [R(SECURITY_GROUP, "sg", {"description": "x", "ingress": [
        {"cidrBlocks": ["10.0.0.0/16"], "fromPort": 443, "toPort": 443, "protocol": "tcp"}]})], []),
    Case("lb-443", "mlops-sg-no-world-ingress", [R(SECURITY_GROUP, "lb-sg", {"description": "lb"}), web_rule(443),
                                                 R(LB, "alb", {"securityGroups": ["sg-1"]}, {"securityGroups": ["lb-sg"]})],
         []),
    Case("443-not-on-lb", "mlops-sg-no-world-ingress", [R(SECURITY_GROUP, "lb-sg", {"description": "lb"}), web_rule(443)],
         ["web-443: ingress from 0.0.0.0/0 on port 443"]),
    Case("lb-ssh", "mlops-sg-no-world-ingress", [R(SECURITY_GROUP, "lb-sg", {"description": "lb"}), web_rule(22),
                                                 R(LB, "alb", {"securityGroups": ["sg-1"]}, {"securityGroups": ["lb-sg"]})],
         ["web-22: ingress from 0.0.0.0/0 on port 22"]),
    Case("inline-all", "mlops-sg-no-world-ingress", [R(SECURITY_GROUP, "sg", {"ingress": [
        {"ipv6CidrBlocks": ["::/0"], "fromPort": 0, "toPort": 0, "protocol": "-1"}]})],
         ["sg: ingress from ::/0 on all ports"]),
    Case("legacy-rule", "mlops-sg-no-world-ingress", [R(LEGACY_RULE, "r", {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"],
                                                                          "fromPort": 22, "toPort": 22})],
         ["r: ingress from 0.0.0.0/0 on port 22"]),
    Case("described", "mlops-sg-descriptions", [R(SECURITY_GROUP, "sg", {"description": "nodes", "ingress": [
        {"description": "from lb", "fromPort": 443, "toPort": 443}]})], []),
    Case("default-description", "mlops-sg-descriptions", [R(SECURITY_GROUP, "sg", {"description": "Managed by Pulumi",
                                                                                   "egress": [{"fromPort": 0}]})],
         ["sg: egress rule 0 has no description", "sg: security group has no description"]),
    Case("rule", "mlops-sg-descriptions", [R(INGRESS_RULE, "r", {"cidrIpv4": "10.0.0.0/8"})],
         ["r: rule has no description"]),
    Case("present", "mlops-vpc-flow-logs", [R(VPC, "vpc", {}), R(FLOW_LOG, "fl", {"vpcId": "vpc-1"}, {"vpcId": ["vpc"]})],
         []),
    Case("missing", "mlops-vpc-flow-logs", [R(VPC, "vpc", {}), R(FLOW_LOG, "fl", {"vpcId": "vpc-other"})],
         ["vpc: VPC has no flow log"]),
    Case("closed", "mlops-vpc-default-sg-closed", [R(DEFAULT_SG, "default", {"vpcId": "v"})], []),
    Case("open", "mlops-vpc-default-sg-closed", [R(DEFAULT_SG, "default", {"ingress": [{"self": True}],
                                                                          "egress": [{"cidrBlocks": ["0.0.0.0/0"]}]})],
         ["default: default security group has 1 ingress and 1 egress rules"]),
]


@params(CASES)
def test_network(case: Case) -> None:
    check(case)
