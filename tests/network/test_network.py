"""Network: VPC, subnets per AZ with EKS/ELB tags, NAT per profile, endpoints, flow logs, closed default SG."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_infra.config import ConfigError
from mlops_infra.network.config import carve_subnets
from mlops_infra.plan import Inventory
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS, PROGRAMS, planned
from tests.nonempty import each

COMPUTE = PROGRAMS / "compute"


@pytest.fixture(scope="module")
def dev() -> Inventory:
    return planned("dev", COMPUTE)


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", COMPUTE)


def subnets(inv: Inventory, role: str) -> list[Any]:
    return [s for s in inv.of_type("aws:ec2/subnet:Subnet") if role in s.inputs["tags"]]


def test_prod_has_private_subnets_in_three_azs_and_a_nat_per_az(prod: Inventory) -> None:
    private = subnets(prod, "kubernetes.io/role/internal-elb")
    assert sorted(s.inputs["availabilityZone"] for s in private) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert sorted(s.inputs["cidrBlock"] for s in private) == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert {s.inputs["tags"]["kubernetes.io/cluster/mlops-prod"] for s in private} == {"shared"}
    assert {s.inputs["tags"]["karpenter.sh/discovery"] for s in private} == {"mlops-prod"}
    public = subnets(prod, "kubernetes.io/role/elb")
    assert len(public) == 3 and {s.inputs["mapPublicIpOnLaunch"] for s in public} == {False}
    nats = prod.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 3
    public_ids = {s.id for s in public}
    assert {n.inputs["subnetId"] for n in nats} == public_ids  # one NAT in each AZ's public subnet


def test_each_private_route_table_uses_its_own_az_nat_in_prod(prod: Inventory) -> None:
    routes = [r for r in prod.of_type("aws:ec2/route:Route") if "natGatewayId" in r.inputs]
    assert len(routes) == 3 and len({r.inputs["natGatewayId"] for r in routes}) == 3


def test_dev_has_two_azs_and_one_shared_nat(dev: Inventory) -> None:
    assert len(subnets(dev, "kubernetes.io/role/internal-elb")) == 2
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1
    routes = [r for r in dev.of_type("aws:ec2/route:Route") if "natGatewayId" in r.inputs]
    assert len(routes) == 2 and len({r.inputs["natGatewayId"] for r in routes}) == 1


def test_interface_endpoints_only_for_a_private_cluster(dev: Inventory, prod: Inventory) -> None:
    def services(inv: Inventory) -> dict[str, str]:
        return {e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1."): e.inputs["vpcEndpointType"]
                for e in inv.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}

    assert services(dev) == {"s3": "Gateway"}
    assert services(prod) == {"s3": "Gateway", **dict.fromkeys(
        ["ecr.api", "ecr.dkr", "sts", "ec2", "logs", "elasticloadbalancing", "autoscaling"], "Interface")}
    iface = [e for e in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["vpcEndpointType"] == "Interface"]
    assert {e.inputs["privateDnsEnabled"] for e in iface} == {True}
    [group] = prod.of_type("aws:ec2/securityGroup:SecurityGroup")  # the endpoints' (the API's is the cluster's)
    rule = [r for r in prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
            if group.urn in r.property_dependencies.get("securityGroupId", [])]
    assert [(r.inputs["cidrIpv4"], r.inputs["fromPort"], r.inputs["toPort"]) for r in rule] == [("10.0.0.0/16", 443, 443)]


def test_s3_gateway_endpoint_serves_every_private_route_table(prod: Inventory) -> None:
    s3 = next(e for e in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["serviceName"].endswith(".s3"))
    private_rts = {r.id for r in prod.of_type("aws:ec2/routeTable:RouteTable") if "private" in r.name}
    assert set(s3.inputs["routeTableIds"]) == private_rts and len(private_rts) == 3


def test_default_security_group_is_closed(prod: Inventory) -> None:
    (sg,) = prod.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert sg.inputs.get("ingress", []) == [] and sg.inputs.get("egress", []) == []
    assert sg.inputs["vpcId"] == prod.of_type("aws:ec2/vpc:Vpc")[0].id


def test_flow_logs_go_to_an_encrypted_log_group(prod: Inventory) -> None:
    (flow,) = prod.of_type("aws:ec2/flowLog:FlowLog")
    group = next(g for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup") if "flow-logs" in g.name)
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow.property_dependencies["logDestination"] == [group.urn]
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert group.options["protect"] is True and group.options["retainOnDelete"] is True
    policy = json.loads(next(p for p in prod.of_type("aws:iam/rolePolicy:RolePolicy")
                             if "flow-logs" in p.name).inputs["policy"])
    assert policy["Statement"][0]["Action"] == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert "*" not in policy["Statement"][0]["Resource"]


def test_dev_flow_logs_keep_30_days_and_are_not_protected(dev: Inventory) -> None:
    group = next(g for g in dev.of_type("aws:cloudwatch/logGroup:LogGroup") if "flow-logs" in g.name)
    assert group.inputs["retentionInDays"] == 30 and group.options["protect"] is False


def test_every_network_child_is_parented_by_the_component(prod: Inventory) -> None:
    (net,) = prod.of_type("mlops:network:Network")
    for r in each(prod.of_type("aws:ec2/subnet:Subnet") + prod.of_type("aws:ec2/natGateway:NatGateway")):
        assert r.parent == net.urn and r.name.startswith("mlops-prod-net-")


def test_subnet_carving() -> None:
    plan = carve_subnets("10.0.0.0/20", 3, 23, 26)
    assert plan is not None
    assert plan.private == ["10.0.0.0/23", "10.0.2.0/23", "10.0.4.0/23"]
    assert plan.public == ["10.0.6.0/26", "10.0.6.64/26", "10.0.6.128/26"]
    assert carve_subnets("10.0.0.0/20", 6, 22, 26) is None


BASE: dict[str, Any] = {"environment": "prod", "tags": {"owner": "o", "costCenter": "c"},
                        "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
                        "securityBaseline": PROD_GUARDS, "cluster": PROD_API_ACCESS}


def problems(**network: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_platform_config({**BASE, "network": network})
    return info.value.problems


@pytest.mark.parametrize(("network", "expected"), [
    ({"azCount": 1}, "network.azCount: must be >= 2 (got 1)"),
    ({"azCount": 6, "vpcCidr": "10.0.0.0/20", "privateSubnetPrefix": 22},
     "network.vpcCidr: 6 private /22 and 6 public /26 subnets do not fit in 10.0.0.0/20"),
    ({"privateSubnetPrefix": 16}, "network.privateSubnetPrefix: must be between /17 and /28 for a /16 VPC (got /16)"),
    ({"publicSubnetPrefix": 28}, "network.publicSubnetPrefix: must be between /17 and /27 for a /16 VPC (got /28)"),
    ({"availabilityZones": ["us-east-1a", "us-east-1b"]},
     "network.availabilityZones: must name exactly azCount zones (2 != 3)"),
    ({"existingVpc": {"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-1", "subnet-2", "subnet-3"],
                      "publicSubnetIds": ["subnet-3"]}},
     "network.existingVpc.publicSubnetIds: also listed as private: subnet-3"),
    ({"vpcCidr": "10.0.0.1/16"}, "network.vpcCidr: not a valid CIDR block ('10.0.0.1/16')"),
])
def test_network_messages(network: dict[str, Any], expected: str) -> None:
    assert problems(**network) == [expected]


def test_existing_vpc_creates_nothing() -> None:
    from mlops_infra.network.config import NetworkConfig
    cfg = NetworkConfig.model_validate({"existingVpc": {"vpcId": "vpc-0123456789abcdef0",
                                                        "privateSubnetIds": ["subnet-a", "subnet-b", "subnet-c"]}})
    assert cfg.existing_vpc is not None and cfg.existing_vpc.private_subnet_ids == ["subnet-a", "subnet-b", "subnet-c"]


def test_feast_dynamodb_gets_a_gateway_endpoint_scoped_to_this_account() -> None:
    """Issue 27 #6: egress-guarded pods reach DynamoDB through its gateway endpoint's prefix list; the endpoint's
    policy admits only this account's principals on this account's tables (a gateway endpoint's default is full)."""
    inv = planned("staging")
    (ddb,) = [e for e in inv.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["serviceName"].endswith(".dynamodb")]
    private_rts = {r.id for r in inv.of_type("aws:ec2/routeTable:RouteTable") if "private" in r.name}
    assert ddb.inputs["vpcEndpointType"] == "Gateway" and set(ddb.inputs["routeTableIds"]) == private_rts
    (stmt,) = json.loads(ddb.inputs["policy"])["Statement"]
    assert stmt["Action"] == ["dynamodb:*"] and stmt["Condition"] == {"StringEquals": {
        "aws:PrincipalAccount": "123456789012", "aws:ResourceAccount": "123456789012"}}


def test_a_public_cluster_with_guarded_namespaces_gets_sts_inside_the_vpc() -> None:
    """Issue 28 #7: staging (public endpoint, IRSA) runs orchestrators behind egress policies that admit HTTPS only
    to the VPC CIDR and the gateway prefix lists, so STS must be an interface endpoint there; nothing else is added."""
    inv = planned("staging")
    iface = {e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1."): e
             for e in inv.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["vpcEndpointType"] == "Interface"}
    assert list(iface) == ["sts"] and iface["sts"].inputs["privateDnsEnabled"] is True
    sids = [s["Sid"] for s in json.loads(iface["sts"].inputs["policy"])["Statement"]]
    assert sids == ["OwnAccountPrincipals", "WebIdentityToOwnAccountRoles"]


NAT_NONE = ("network.natGateways: `none` is not supported: the platform's images come from docker.io, quay.io, "
            "ghcr.io, nvcr.io, registry.k8s.io, public.ecr.aws, which no VPC endpoint reaches, so pods would never "
            "pull them (ImagePullBackOff); use natGateways single (one NAT gateway) or perAz (one per zone)")


@pytest.mark.parametrize("cluster", [{"endpointPublicAccess": False, **PROD_API_ACCESS},
                                     {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}])
@pytest.mark.parametrize("provisioner", ["karpenter", "managedNodeGroups"])
def test_nat_none_is_refused_naming_the_registries_and_the_alternative(cluster: dict[str, Any],
                                                                         provisioner: str) -> None:
    """Review (latefix) #1: without NAT no pod could pull its image (no VPC endpoint reaches a public registry), so
    `none` is refused for a created VPC, private cluster or not; `single` with the same settings is accepted."""
    base = {"environment": "dev", "tags": {"owner": "o", "costCenter": "c"}, "cluster": cluster,
            "gpu": {"provisioner": provisioner}}
    with pytest.raises(ConfigError) as info:
        load_platform_config({**base, "network": {"natGateways": "none"}})
    assert [p for p in info.value.problems if p.startswith("network.natGateways")] == [NAT_NONE]
    load_platform_config({**base, "network": {"natGateways": "single"}})


@pytest.mark.parametrize("render", [False, pytest.param(True, marks=pytest.mark.charts(
    "kube-prometheus-stack", "gpu-operator", "nvidia-device-plugin", "dcgm-exporter"))])
def test_the_refusal_names_every_registry_the_platforms_images_come_from(render: bool) -> None:
    """The message's premise, from the planned prod stack's image references (with `render`, the charts' too): each
    comes from a registry it names, or from ECR (private, which NAT serves as well: the EKS add-on images live in
    another region's ECR, which this region's ecr.dkr endpoint would not reach), and some come from public ones."""
    from mlops_infra.platform.config import PUBLIC_REGISTRIES
    hosts = image_registries(planned("prod", render=render))
    assert hosts & set(PUBLIC_REGISTRIES)
    assert {h for h in hosts if not re.fullmatch(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com", h)} <= \
        set(PUBLIC_REGISTRIES)
    if render:  # what the charts add: the Kubernetes project's, NVIDIA's and GitHub's registries
        assert {"registry.k8s.io", "nvcr.io", "ghcr.io"} <= hosts


IMAGE = re.compile(r"([a-z0-9-]+(?:\.[a-z0-9-]+)+)/[a-z0-9._/-]+(?::[\w.-]+|@sha256:[0-9a-f]{64})")


def image_registries(inv: Inventory) -> set[str]:
    """The registry host of every string under an `image` key (a container's, or a chart value's `image`)."""
    found: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and "image" in key.lower() and (m := IMAGE.fullmatch(node)):
            found.add(m.group(1))
    for r in inv.resources:
        walk(r.inputs)
    return found


def test_an_existing_vpc_must_declare_the_endpoints_guarded_pods_call() -> None:
    """Review (net) #3: the platform creates no endpoint in an existing VPC; guarded IRSA pods need STS there and
    Feast's online store DynamoDB's gateway, so config must name them."""
    doc = {"environment": "prod", "tags": {"owner": "o", "costCenter": "c"},
           "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
           "securityBaseline": {"deployerRoleArns": ["arn:aws:iam::123456789012:role/d"]}, "cluster": PROD_API_ACCESS,
           "network": {"vpcCidr": "10.20.0.0/16", "existingVpc": {
               "vpcId": "vpc-0e1e2e3e4e5e6e7e8", "privateSubnetIds": ["subnet-0e1a", "subnet-0e1b", "subnet-0e1c"],
               "s3GatewayEndpointId": "vpce-0e1e2e3e4e5e6e7e8"}}}
    with pytest.raises(ConfigError) as info:
        load_platform_config(doc)
    assert sorted(p.split(":")[0] for p in info.value.problems if p.startswith("network.existingVpc")) == [
        "network.existingVpc.dynamodbGatewayEndpointId", "network.existingVpc.interfaceEndpointIds.sts"]
    doc["network"]["existingVpc"].update(interfaceEndpointIds={"sts": "vpce-0e1e2e3e4e5e6e7f0"},
                                         dynamodbGatewayEndpointId="vpce-0e1e2e3e4e5e6e7f1")
    load_platform_config(doc)



def test_the_sts_endpoint_admits_only_this_accounts_roles() -> None:
    """Review (net) #6: `sts:*` for this account's principals had no resource-account bound, so a pod could assume
    another account's role through the endpoint; identity calls (no resource) and IRSA still pass."""
    from mlops_infra.network.endpoint_policies import interface_endpoint_policy
    from tests import iam_eval
    own, other = "123456789012", "210987654321"
    doc = interface_endpoint_policy("sts", own)
    ours = {"aws:PrincipalAccount": own}
    assert iam_eval.allows([doc], "sts:AssumeRole", f"arn:aws:iam::{own}:role/r", {**ours, "aws:ResourceAccount": own})
    assert not iam_eval.allows([doc], "sts:AssumeRole", f"arn:aws:iam::{other}:role/r",
                               {**ours, "aws:ResourceAccount": other})
    assert iam_eval.allows([doc], "sts:GetCallerIdentity", "*", ours)
    assert not iam_eval.allows([doc], "sts:GetCallerIdentity", "*", {"aws:PrincipalAccount": other})
    assert iam_eval.allows([doc], "sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{own}:role/r",
                           {"aws:ResourceAccount": own})
    assert not iam_eval.allows([doc], "sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{other}:role/r",
                               {"aws:ResourceAccount": other})
