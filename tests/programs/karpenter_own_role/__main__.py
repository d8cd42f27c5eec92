"""Karpenter whose nodes run as a role this program makes (under the IAM path `/teams/search/`), with the EKS access
entry that admits it (`node_access_entry`): the cluster and subnets are the platform stack's."""

import pulumi
import pulumi_aws as aws

from mlops_infra.blocks import iam
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, NodeRefs, cluster_provider
from mlops_infra.compute.gpu_config import GpuPlatformConfig
from mlops_infra.compute.karpenter import Karpenter, KarpenterArgs
from mlops_infra.stack import read_config_section, read_consumer_config

config = read_consumer_config()
gpu = read_config_section(pulumi.get_project(), "gpu", GpuPlatformConfig)
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
trust = iam.trust_document([iam.statement("Ec2Nodes", ["sts:AssumeRole"], [],
                                          principals={"Service": "ec2.amazonaws.com"})])
role = aws.iam.Role("search-nodes", name="search-karpenter-nodes", path="/teams/search/", assume_role_policy=trust)
attached = [aws.iam.RolePolicyAttachment(f"search-nodes-{p}", role=role.name,
                                         policy_arn=f"arn:aws:iam::aws:policy/{p}")
            for p in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")]
nodes = NodeRefs(role_arn=role.arn, volume_key_arn=NodeRefs.from_stack_outputs(platform).volume_key_arn,
                 role_policies=tuple(attached))
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))
Karpenter("search-karpenter", KarpenterArgs(
    config=gpu, pools=config.gpu_pools, cluster=ClusterRefs.from_stack_outputs(platform, provider),
    network=NetworkRefs.from_stack_outputs(platform), nodes=nodes, region=config.region, tags=config.resource_tags,
    node_access_entry=True))
