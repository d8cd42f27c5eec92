"""Network alone: a VPC with private and public subnets, NAT and endpoints for an EKS cluster, from this stack's own
`network:vpc` section (a NetworkConfig); no platform, no StackReference."""

import pulumi

from mlops_infra.network.config import NetworkConfig
from mlops_infra.network.network import Network, NetworkArgs
from mlops_infra.stack import read_config_section

config = pulumi.Config()
vpc = read_config_section("network", "vpc", NetworkConfig)  # one error lists every problem
network = Network("search-dev-net", NetworkArgs(
    config=vpc, region=pulumi.Config("aws").require("region"), cluster_name=config.require("clusterName"),
    tags=config.require_object("tags"), protect=False))
pulumi.export("vpcId", network.refs.vpc_id)
pulumi.export("privateSubnetIds", network.refs.private_subnet_ids)
