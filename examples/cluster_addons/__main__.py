"""Cluster add-ons on a platform stack's cluster (read through a StackReference): the AWS LoadBalancerController,
and GpuSoftware (the NVIDIA device plugin for the pools of `gpuPools`) with the ClusterAutoscaler that scales their
node groups, each only when the cluster does not run it yet. Each is a cluster-wide singleton: the platform's
`clusterAddOns` output lists those its cluster runs, and a component refuses to install one a second time. The GPU
settings are this stack's `cluster_addons:gpu` section (a GpuPlatformConfig)."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.compute.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from mlops_infra.compute.gpu_config import GpuPlatformConfig
from mlops_infra.compute.gpu_software import GpuSoftware, GpuSoftwareArgs
from mlops_infra.compute.load_balancer_controller import LoadBalancerController, LoadBalancerControllerArgs
from mlops_infra.stack import read_config_section, read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `gpuPools`
gpu = read_config_section(pulumi.get_project(), "gpu", GpuPlatformConfig)
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # what the cluster runs: the platform's outputs
if cluster.add_ons is None:  # a platform stack older than `clusterAddOns`: what its cluster runs is unknown
    raise ValueError("the platform stack does not export `clusterAddOns`: run `pulumi up` on it with this release")
name, runs = f"{config.name}-{config.environment}", cluster.add_ons
installed: list[str] = []
if not cluster.load_balancer_controller:
    installed.append("loadBalancerController")
    LoadBalancerController(f"{name}-alb", LoadBalancerControllerArgs(
        cluster=cluster, region=config.region, vpc_id=NetworkRefs.from_stack_outputs(platform).vpc_id,
        tags=config.resource_tags, node_selector={"kubernetes.io/os": "linux"}))
if "gpuSoftware" not in runs:
    installed.append("gpuSoftware")
    GpuSoftware(f"{name}-gpu-software", GpuSoftwareArgs(config=gpu, pools=config.gpu_pools, cluster=cluster))
if "clusterAutoscaler" not in runs:
    installed.append("clusterAutoscaler")
    ClusterAutoscaler(f"{name}-autoscaler", ClusterAutoscalerArgs(
        cluster=cluster, region=config.region, tags=config.resource_tags,
        chart_version=gpu.cluster_autoscaler_version))
pulumi.export("installed", installed)
