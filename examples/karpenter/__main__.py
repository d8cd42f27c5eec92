"""Karpenter added to an existing cluster: the platform stack's, read through a StackReference (every ref an Output).
The nodes it launches run as the platform's node role (`NodeRefs`: its ARN, the name derived from it), in the
platform's private subnets (`NetworkRefs`). Karpenter is a cluster-wide singleton: refused when the platform's
`clusterAddOns` lists it. The GPU settings are this stack's `karpenter:gpu` section (a GpuPlatformConfig)."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, NodeRefs, cluster_provider
from mlops_infra.compute.gpu_config import GpuPlatformConfig
from mlops_infra.compute.karpenter import Karpenter, KarpenterArgs
from mlops_infra.stack import read_config_section, read_consumer_config


class Capacity(pulumi.ComponentResource):
    """The parent this program names for its provider and Karpenter."""

    def __init__(self, name: str) -> None:
        super().__init__("mlops:test:Capacity", name)


config = read_consumer_config()  # `gpuPools` is read; what the cluster runs comes from the platform's outputs
gpu = read_config_section(pulumi.get_project(), "gpu", GpuPlatformConfig)
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
capacity = Capacity("team-capacity")
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform),
                            pulumi.ResourceOptions(parent=capacity))
Karpenter(f"{config.name}-{config.environment}-karpenter", KarpenterArgs(
    config=gpu, pools=config.gpu_pools, cluster=ClusterRefs.from_stack_outputs(platform, provider),
    network=NetworkRefs.from_stack_outputs(platform), nodes=NodeRefs.from_stack_outputs(platform),
    region=config.region, tags=config.resource_tags), pulumi.ResourceOptions(parent=capacity))
