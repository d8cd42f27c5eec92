"""Network: the platform VPC (public + private subnets per AZ, NAT, endpoints, flow logs), or an existing VPC."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.naming import child, child_options
from ..blocks.refs import NetworkRefs
from .config import PRIVATE_CLUSTER_ENDPOINTS, NetworkConfig
from .endpoint_policies import gateway_endpoint_policy_dynamodb, interface_endpoint_policy


def interface_services(private_cluster: bool, workload_endpoints: Sequence[str]) -> list[str]:
    """The interface endpoints to create: a private cluster's, then the workloads' (each once, in that order)."""
    return list(dict.fromkeys([*(PRIVATE_CLUSTER_ENDPOINTS if private_cluster else ()), *workload_endpoints]))


@dataclass(frozen=True)
class NetworkArgs:
    config: NetworkConfig
    region: str
    cluster_name: str
    """The EKS cluster that uses the subnets: tagged `kubernetes.io/cluster/<name>` and `karpenter.sh/discovery`."""
    tags: dict[str, str]
    private_cluster: bool = False
    """Create the interface endpoints a private cluster needs (no public API endpoint). Default: false."""
    workload_endpoints: Sequence[str] = ()
    """Further interface endpoints (e.g. `sts`, `athena`, `glue`) for pods behind egress NetworkPolicies, which can
    admit the VPC CIDR but not a service's public addresses. Default: none."""
    dynamodb_endpoint: bool = False
    """A DynamoDB gateway endpoint on the private route tables (free; its prefix list is what egress admits).
    Default: false."""
    protect: bool = True
    """`protect` + `retain_on_delete` on the flow-log group and its key. Default: true."""


class Network(pulumi.ComponentResource):
    """Why one component: subnets, routes, NAT and endpoints must agree on AZs and CIDRs, so one place carves them."""

    refs: NetworkRefs
    nat_gateway_ids: list[pulumi.Output[str]]

    # long: the VPC's subnets, routes, NAT and endpoints per AZ in creation order; each step feeds the next one's ids
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:network:Network", name, None, opts)
        cfg = args.config
        if cfg.existing_vpc is not None:
            existing = cfg.existing_vpc
            self.nat_gateway_ids = []
            # The endpoint id comes from config: the exfiltration guards need it, and config validation refuses
            # guards on an existing VPC without it (a config error, exit 2, instead of a ValueError mid-plan).
            self.refs = NetworkRefs(
                vpc_id=existing.vpc_id, vpc_cidr=cfg.vpc_cidr, private_subnet_ids=list(existing.private_subnet_ids),
                public_subnet_ids=list(existing.public_subnet_ids),
                s3_gateway_endpoint_id=existing.s3_gateway_endpoint_id, owns_endpoints=False,
                interface_endpoints=tuple(sorted(existing.interface_endpoint_ids)))
            self.register_outputs({"vpcId": existing.vpc_id})
            return
        tags = args.tags
        zones = list(cfg.availability_zones or aws.get_availability_zones(
            state="available", opts=pulumi.InvokeOptions(parent=self)).names[: cfg.az_count])
        plan = cfg.subnet_plan()
        vpc = aws.ec2.Vpc(name, cidr_block=cfg.vpc_cidr, enable_dns_support=True, enable_dns_hostnames=True,
                          tags={**tags, "Name": name}, opts=child_options(self))
        # Closed: no rules at all, so nothing can use the default group by accident (CKV2_AWS_12, FSBP EC2.2).
        aws.ec2.DefaultSecurityGroup(child(name, "default-sg"), vpc_id=vpc.id, ingress=[], egress=[],
                                     tags={**tags, "Name": child(name, "default-closed")}, opts=child_options(self))
        igw = aws.ec2.InternetGateway(child(name, "igw"), vpc_id=vpc.id, tags=tags, opts=child_options(self))
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        public, private = [], []
        for i, zone in enumerate(zones):
            public.append(aws.ec2.Subnet(
                child(name, f"public-{zone}"), vpc_id=vpc.id, cidr_block=plan.public[i], availability_zone=zone,
                map_public_ip_on_launch=False,  # only load balancers and NAT live here, with their own addresses
                tags={**tags, **cluster_tag, "Name": child(name, f"public-{zone}"), "kubernetes.io/role/elb": "1"},
                opts=child_options(self)))
            private.append(aws.ec2.Subnet(
                child(name, f"private-{zone}"), vpc_id=vpc.id, cidr_block=plan.private[i], availability_zone=zone,
                tags={**tags, **cluster_tag, "Name": child(name, f"private-{zone}"),
                      "kubernetes.io/role/internal-elb": "1", "karpenter.sh/discovery": args.cluster_name},
                opts=child_options(self)))
        public_rt = aws.ec2.RouteTable(child(name, "public"), vpc_id=vpc.id, tags=tags, opts=child_options(self))
        aws.ec2.Route(child(name, "public-default"), route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
                      gateway_id=igw.id, opts=child_options(self))
        for zone, subnet in zip(zones, public, strict=True):
            aws.ec2.RouteTableAssociation(child(name, f"public-{zone}"), route_table_id=public_rt.id,
                                          subnet_id=subnet.id, opts=child_options(self))
        nats = []
        for i in range(cfg.nat_gateway_count):
            eip = aws.ec2.Eip(child(name, f"nat-{zones[i]}"), domain="vpc", tags=tags, opts=child_options(self))
            nats.append(aws.ec2.NatGateway(
                child(name, f"nat-{zones[i]}"), allocation_id=eip.allocation_id, subnet_id=public[i].id,
                tags={**tags, "Name": child(name, f"nat-{zones[i]}")}, opts=child_options(self, depends_on=[igw])))
        private_rts = []
        for i, (zone, subnet) in enumerate(zip(zones, private, strict=True)):
            rt = aws.ec2.RouteTable(child(name, f"private-{zone}"), vpc_id=vpc.id, tags=tags, opts=child_options(self))
            if nats:  # perAz: each AZ its own NAT; single: every AZ shares the first
                aws.ec2.Route(child(name, f"private-{zone}-default"), route_table_id=rt.id,
                              destination_cidr_block="0.0.0.0/0", nat_gateway_id=nats[i % len(nats)].id,
                              opts=child_options(self))
            aws.ec2.RouteTableAssociation(child(name, f"private-{zone}"), route_table_id=rt.id, subnet_id=subnet.id,
                                          opts=child_options(self))
            private_rts.append(rt)
        s3 = aws.ec2.VpcEndpoint(
            child(name, "s3"), vpc_id=vpc.id, service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in private_rts], tags=tags, opts=child_options(self))
        if args.dynamodb_endpoint:
            account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
            aws.ec2.VpcEndpoint(
                child(name, "dynamodb"), vpc_id=vpc.id, service_name=f"com.amazonaws.{args.region}.dynamodb",
                vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in private_rts],
                policy=account.apply(gateway_endpoint_policy_dynamodb), tags=tags, opts=child_options(self))
        services = interface_services(args.private_cluster, args.workload_endpoints)
        if services:
            self._interface_endpoints(name, args, vpc, private, services)
        if cfg.flow_logs.enabled:
            self._flow_logs(name, args, vpc)
        self.vpc_id = vpc.id
        self.nat_gateway_ids = [n.id for n in nats]
        self.refs = NetworkRefs(
            vpc_id=vpc.id, vpc_cidr=cfg.vpc_cidr, private_subnet_ids=[s.id for s in private],
            public_subnet_ids=[s.id for s in public], availability_zones=zones, s3_gateway_endpoint_id=s3.id,
            private_route_table_ids=[rt.id for rt in private_rts], interface_endpoints=tuple(services))
        self.register_outputs({"vpcId": vpc.id, "privateSubnetIds": [s.id for s in private]})

    def _interface_endpoints(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc,
                             private: list[aws.ec2.Subnet], services: Sequence[str]) -> None:
        """Nodes of a private cluster reach ECR, STS, EC2, Logs, ELB and Auto Scaling without leaving the VPC; pods
        behind egress policies reach the services they are granted (`workload_endpoints`) the same way."""
        sg = aws.ec2.SecurityGroup(child(name, "endpoints"), vpc_id=vpc.id,
                                   description="HTTPS from the VPC to interface endpoints", tags=args.tags,
                                   opts=child_options(self))
        aws.vpc.SecurityGroupIngressRule(child(name, "endpoints-https"), security_group_id=sg.id,
                                         cidr_ipv4=args.config.vpc_cidr, ip_protocol="tcp", from_port=443,
                                         to_port=443, description="HTTPS from inside the VPC", opts=child_options(self))
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        for service in services:
            # Only this account's principals pass (issue 27 #13; endpoint_policies.py says why per service).
            policy = account.apply(functools.partial(interface_endpoint_policy, service))
            aws.ec2.VpcEndpoint(
                child(name, service.replace(".", "-")), vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}", vpc_endpoint_type="Interface",
                private_dns_enabled=True, subnet_ids=[s.id for s in private], security_group_ids=[sg.id],
                policy=policy, tags=args.tags, opts=child_options(self))

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc) -> None:
        cfg = args.config.flow_logs
        key = KmsKey(child(name, "flow-logs-key"), KmsKeyArgs(
            description=f"{name} VPC flow logs", tags=args.tags, protect=args.protect,
            service_principals=[f"logs.{args.region}.amazonaws.com"]), pulumi.ResourceOptions(parent=self))
        group = aws.cloudwatch.LogGroup(
            child(name, "flow-logs"), name=f"/aws/vpc/{name}/flow-logs", retention_in_days=cfg.retention_days,
            kms_key_id=key.arn, deletion_protection_enabled=args.protect, tags=args.tags,
            opts=child_options(self, stateful=True, protect=args.protect))
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        trust = iam.trust_document([iam.statement(
            "VpcFlowLogs", ["sts:AssumeRole"], [], principals={"Service": "vpc-flow-logs.amazonaws.com"},
            conditions={"StringEquals": {"aws:SourceAccount": account}})])
        role = aws.iam.Role(child(name, "flow-logs"), assume_role_policy=trust, tags=args.tags, opts=child_options(self))
        aws.iam.RolePolicy(child(name, "flow-logs"), role=role.id, policy=iam.document([iam.statement(
            "WriteFlowLogs", ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            [group.arn, pulumi.Output.concat(group.arn, ":*")])]), opts=child_options(self))
        aws.ec2.FlowLog(child(name, "flow-logs"), vpc_id=vpc.id, traffic_type=cfg.traffic_type,
                        log_destination_type="cloud-watch-logs", log_destination=group.arn, iam_role_arn=role.arn,
                        max_aggregation_interval=60, tags=args.tags, opts=child_options(self))
