"""The compute half of the platform, wired as MlopsPlatform would: Network -> TrainingCluster -> GPU pools
(managed node groups or Karpenter) -> cluster autoscaler -> GPU software. Stacks: dev (dev-like), prod (prod-like), karpenter."""

import pulumi

from mlops_infra.compute.cluster import TrainingCluster, TrainingClusterArgs
from mlops_infra.compute.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs, needed
from mlops_infra.compute.gpu_pool import GpuNodePool, GpuNodePoolArgs
from mlops_infra.compute.gpu_software import GpuSoftware, GpuSoftwareArgs
from mlops_infra.compute.karpenter import Karpenter, KarpenterArgs
from mlops_infra.network.network import Network, NetworkArgs
from mlops_infra.stack import read_platform_config

config = read_platform_config()
name = f"{config.name}-{config.environment}"
tags = config.resource_tags
network = Network(f"{name}-net", NetworkArgs(
    config=config.network, region=config.region, cluster_name=name, tags=tags,
    private_cluster=not config.cluster.endpoint_public_access, protect=config.protect_stateful))
cluster = TrainingCluster(name, TrainingClusterArgs(
    config=config.cluster, network=network.refs, region=config.region, tags=tags, protect=config.protect_stateful))
if config.gpu.provisioner == "karpenter":
    Karpenter(f"{name}-karpenter", KarpenterArgs(
        config=config.gpu, pools=config.gpu_pools, cluster=cluster.refs, network=network.refs,
        nodes=cluster.node_refs, region=config.region, tags=tags))
else:
    for pool in config.gpu_pools:
        GpuNodePool(f"{name}-gpu-{pool.name}", GpuNodePoolArgs(
            config=pool, cluster=cluster.refs, network=network.refs, nodes=cluster.node_refs, tags=tags))
if needed(config.cluster.system_nodes, config.gpu, config.gpu_pools):
    ClusterAutoscaler(f"{name}-autoscaler", ClusterAutoscalerArgs(
        cluster=cluster.refs, region=config.region, tags=tags, chart_version=config.gpu.cluster_autoscaler_version))
if config.gpu_pools:
    GpuSoftware(f"{name}-gpu-software", GpuSoftwareArgs(config=config.gpu, pools=config.gpu_pools, cluster=cluster.refs))

pulumi.export("clusterName", cluster.cluster.name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("vpcId", network.refs.vpc_id)
pulumi.export("privateSubnetIds", network.refs.private_subnet_ids)
pulumi.export("nodeRoleArn", cluster.node_role.arn)
