"""Cluster add-ons on a platform stack's cluster (read through a StackReference): the AWS LoadBalancerController,
and GpuSoftware (the NVIDIA device plugin for the pools of `gpuPools`) with the ClusterAutoscaler that scales their
node groups: those this stack's `cluster_addons:install` names, an explicit choice. Each is a cluster-wide singleton:
the platform's `clusterAddOns` output lists those its cluster runs, and a component refuses to install one a second
time; after installing one here, add it to the platform's `cluster.addOnsInstalledElsewhere`, owned by this stack
(e.g. `loadBalancerController: organization/cluster_addons/dev`), so that no other stack (nor the platform) installs
it again, and this stack's next plan keeps it (the platform's `clusterAddOnOwners` names this stack). The GPU
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
stack = pulumi.Config()
platform = pulumi.StackReference("platform", stack_name=stack.require("platformStack"))
CHOICES = ("loadBalancerController", "gpuSoftware", "clusterAutoscaler")
install = list(stack.require_object("install"))
if unknown := [a for a in install if a not in CHOICES]:
    raise ValueError(f"cluster_addons:install: {unknown} are not add-ons this program installs ({list(CHOICES)})")
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # what the cluster runs: the platform's outputs
name = f"{config.name}-{config.environment}"
installed: list[str] = []  # each component refuses an add-on the platform's `clusterAddOns` lists
if "loadBalancerController" in install:
    installed.append("loadBalancerController")
    LoadBalancerController(f"{name}-alb", LoadBalancerControllerArgs(
        cluster=cluster, region=config.region, vpc_id=NetworkRefs.from_stack_outputs(platform).vpc_id,
        tags=config.resource_tags, node_selector={"kubernetes.io/os": "linux"}))
if "gpuSoftware" in install:
    installed.append("gpuSoftware")
    GpuSoftware(f"{name}-gpu-software", GpuSoftwareArgs(config=gpu, pools=config.gpu_pools, cluster=cluster))
if "clusterAutoscaler" in install:
    installed.append("clusterAutoscaler")
    ClusterAutoscaler(f"{name}-autoscaler", ClusterAutoscalerArgs(
        cluster=cluster, region=config.region, tags=config.resource_tags,
        chart_version=gpu.cluster_autoscaler_version))
pulumi.export("installed", installed)
