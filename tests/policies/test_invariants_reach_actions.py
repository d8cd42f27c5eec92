"""Family service-reach: which granted actions make the pod call a service endpoint (review #30 item 4):
permission-only actions call none; KMS is called by the pod unless it is used on the caller's behalf."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_policies.invariants_reach_actions import PERMISSION_ONLY, services_called

from .cases import Case, check, params
from .helpers import R
from .test_invariants_network import NET, REACH, TRAINER, endpoint, https, reach_egress, role


def allow(*actions: str, **condition: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": "*", **({"Condition": condition} if condition else {})}


@pytest.mark.parametrize("action", ["iam:PassRole", "rds-db:connect", "kafka-cluster:Connect",
                                    "kafka-cluster:WriteData", "es:ESHttpGet", "es:ESHttp*",
                                    "elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"])
def test_a_permission_only_action_calls_no_endpoint(action: str) -> None:
    assert PERMISSION_ONLY
    assert services_called([allow(action)]) == set()


@pytest.mark.parametrize(("action", "service"), [("es:CreateDomain", "es"), ("es:*", "es"),
                                                 ("elasticfilesystem:DescribeMountTargets", "elasticfilesystem"),
                                                 ("iam:GetRole", "iam"), ("rds:DescribeDBInstances", "rds")])
def test_an_api_action_of_the_same_prefix_still_counts(action: str, service: str) -> None:
    assert services_called([allow(action)]) == {service}


def test_kms_called_by_the_pod_counts() -> None:  # sops, Vault's awskms seal
    assert services_called([allow("kms:Decrypt", "kms:Encrypt", "kms:DescribeKey")]) == {"kms"}


def test_kms_used_on_the_callers_behalf_does_not() -> None:
    assert services_called([allow("s3:GetObject"), allow("kms:Decrypt")]) == {"s3"}
    assert services_called([allow("kms:Decrypt", StringEquals={"kms:ViaService": "s3.us-east-1.amazonaws.com"})]) \
        == set()
    assert services_called([allow("kms:CreateGrant", Bool={"kms:GrantIsForAWSResource": "true"})]) == set()


CASES = [
    # IAM database auth signs the token locally: a VPC with only STS reach is enough.
    Case("rds-db-connect-needs-no-rds-endpoint", REACH, [*NET, endpoint("sts", "Interface"),
                                                          *role("research", "trainer", "rds-db:connect"),
                                                          reach_egress("research", https("10.0.0.0/16"))], []),
    Case("kms-called-by-the-pod-is-judged", REACH, [*NET, endpoint("sts", "Interface"),
                                                     *role("research", "trainer", "kms:Decrypt"),
                                                     reach_egress("research", https("10.0.0.0/16"))],
         [TRAINER.format("kms") + "the VPC has no kms interface endpoint, and egress of NetworkPolicy egress admits "
          "no HTTPS to the internet (a NetworkPolicy cannot name the service's public addresses)"]),
]


# Interface endpoints with private DNS (review #30 items 5 and 6): the name resolves to the endpoint's ENIs, so NAT is
# not used, and egress admitting exactly the endpoint's subnets reaches it.
SUBNET_A = R("aws:ec2/subnet:Subnet", "private-a", {"cidrBlock": "10.0.1.0/24"})
SUBNET_B = R("aws:ec2/subnet:Subnet", "private-b", {"cidrBlock": "10.0.2.0/24"})
NAT = R("aws:ec2/natGateway:NatGateway", "nat", {})


def placed(service: str) -> R:
    ep = endpoint(service, "Interface")
    return R(ep.type, ep.name, {**ep.inputs, "subnetIds": ["a-id", "b-id"]}, deps={"subnetIds": ["private-a", "private-b"]})


ALL_BUT_PRIVATE = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                   "ports": [{"protocol": "TCP", "port": 443}]}
TRAINER_STS = TRAINER.format("sts") + "egress of NetworkPolicy egress admits no HTTPS to the VPC CIDR, where its "
CASES += [
    Case("endpoint-subnets-admitted", REACH, [*NET, SUBNET_A, SUBNET_B, placed("sts"), *role("research", "trainer"),
                                              reach_egress("research", https("10.0.1.0/24", "10.0.2.0/24"))], []),
    Case("one-endpoint-subnet-admitted", REACH, [*NET, SUBNET_A, SUBNET_B, placed("sts"), *role("research", "trainer"),
                                                 reach_egress("research", https("10.0.1.0/24"))],
         [TRAINER_STS + "interface endpoint listens (its subnets 10.0.1.0/24, 10.0.2.0/24)"]),
    Case("private-dns-endpoint-behind-an-rfc1918-except", REACH, [
        *NET, NAT, endpoint("sts", "Interface"), *role("research", "trainer"),
        reach_egress("research", ALL_BUT_PRIVATE)], [TRAINER_STS + "interface endpoint listens"]),
    Case("no-endpoint-internet-through-nat", REACH, [*NET, NAT, *role("research", "trainer"),
                                                     reach_egress("research", ALL_BUT_PRIVATE)], []),
]


# Ways out besides NAT (review #30 item 3): an internet gateway from subnets giving public IPs (the VPC CNI SNATs pod
# traffic to the node's address), a Transit Gateway (centralised egress, not judged beyond).
IGW = R("aws:ec2/internetGateway:InternetGateway", "igw", {})


def routed(route: dict[str, Any], deps: list[str], public: bool) -> list[R]:
    return [IGW, R("aws:ec2/subnet:Subnet", "nodes", {"cidrBlock": "10.0.1.0/24", "mapPublicIpOnLaunch": public}),
            R("aws:ec2/routeTable:RouteTable", "rt", {"routes": [{"cidrBlock": "0.0.0.0/0", **route}]},
              deps={"routes": deps}),
            R("aws:ec2/routeTableAssociation:RouteTableAssociation", "rta", {}, deps={
                "subnetId": ["nodes"], "routeTableId": ["rt"]})]


NO_WAY_OUT = TRAINER.format("sts") + "the VPC has neither its interface endpoint nor NAT"
CASES += [
    Case("igw-from-public-subnets", REACH, [*NET, *routed({"gatewayId": "igw-1"}, ["igw"], True),
                                            *role("research", "trainer")], []),
    Case("igw-from-private-subnets", REACH, [*NET, *routed({"gatewayId": "igw-1"}, ["igw"], False),
                                             *role("research", "trainer")], [NO_WAY_OUT]),
    Case("transit-gateway-default-route", REACH, [*NET, *routed({"transitGatewayId": "tgw-1"}, [], False),
                                                  *role("research", "trainer")], []),
]


@params(CASES)
def test_service_reach_actions(case: Case) -> None:
    check(case)
