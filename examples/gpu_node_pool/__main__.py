"""A GPU pool added to an existing cluster: the platform stack's, read through a StackReference (every ref an
Output). The pool makes no Kubernetes object; its refs carry the cluster's provider, made once, under the
component the program names as parent."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, NodeRefs, cluster_provider
from mlops_infra.compute.gpu_pool import GpuNodePool, GpuNodePoolArgs
from mlops_infra.stack import read_consumer_config


class Capacity(pulumi.ComponentResource):
    """The parent this program names for its provider and pools."""

    def __init__(self, name: str) -> None:
        super().__init__("mlops:test:Capacity", name)


config = read_consumer_config()  # `gpuPools` is read; what the cluster runs comes from the platform's outputs
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
capacity = Capacity("team-capacity")
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform),
                            pulumi.ResourceOptions(parent=capacity))
cluster = ClusterRefs.from_stack_outputs(platform, provider)
for pool in config.gpu_pools:
    GpuNodePool(f"team-gpu-{pool.name}", GpuNodePoolArgs(
        config=pool, cluster=cluster, network=NetworkRefs.from_stack_outputs(platform),
        nodes=NodeRefs.from_stack_outputs(platform), tags=config.resource_tags), pulumi.ResourceOptions(parent=capacity))
