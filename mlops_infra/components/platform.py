"""MlopsPlatform: composes the platform's components from one validated config."""

from __future__ import annotations

from typing import Any

import pulumi

from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.naming import child
from ..config import PlatformConfig
from .cluster import TrainingCluster, TrainingClusterArgs
from .gpu_pool import GpuNodePool, GpuNodePoolArgs
from .gpu_software import GpuSoftware, GpuSoftwareArgs
from .karpenter import Karpenter, KarpenterArgs
from .network import Network, NetworkArgs


class MlopsPlatform(pulumi.ComponentResource):
    """The whole platform for one environment. Its outputs are the contract consumer stacks rely on
    (`mlops_infra.outputs.CONTRACT`)."""

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:platform:MlopsPlatform", name, None, opts)
        tags = config.resource_tags
        protect = config.protect_stateful
        child_opts = pulumi.ResourceOptions(parent=self)

        self.network = Network(child(name, "net"), NetworkArgs(
            config=config.network, region=config.region, cluster_name=name, tags=tags,
            private_cluster=not config.cluster.endpoint_public_access, protect=protect), child_opts)
        self.cluster = TrainingCluster(child(name, "eks"), TrainingClusterArgs(
            config=config.cluster, network=self.network.refs, region=config.region, tags=tags,
            protect=protect, cluster_name=name), child_opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.cluster.provider})
        self._compute(name, config, tags, child_opts, k8s_opts)

        self.data_key = KmsKey(child(name, "data-key"), KmsKeyArgs(
            description=f"{name} platform data", tags=tags, protect=protect), child_opts)
        self.shared_bucket = HardenedBucket(child(name, "shared"), HardenedBucketArgs(
            kms_key=self.data_key, tags=tags, protect=protect,
            lifecycle=[LifecycleRule(id="expire-scratch", prefix="scratch/", expiration_days=30)]), child_opts)

        self.outputs: dict[str, Any] = {
            "environment": config.environment,
            "clusterName": self.cluster.cluster.name,
            "clusterEndpoint": self.cluster.cluster.endpoint,
            "kubeconfig": self.cluster.kubeconfig,
            "oidcProviderArn": self.cluster.oidc_provider_arn,
            "workloadIdentity": config.cluster.workload_identity,
            "vpcId": self.network.refs.vpc_id,
            "privateSubnetIds": list(self.network.refs.private_subnet_ids),
            "clusterSecurityGroupId": self.cluster.refs.cluster_security_group_id,
            "nodeRoleArn": self.cluster.node_role.arn,
            "sharedBucketName": self.shared_bucket.bucket_name,
            "dataKeyArn": self.data_key.arn,
        }
        self.register_outputs(dict(self.outputs))

    def _compute(self, name: str, config: PlatformConfig, tags: dict[str, str], child_opts: pulumi.ResourceOptions,
                 k8s_opts: pulumi.ResourceOptions) -> None:
        """GPU capacity: managed node groups per pool, or Karpenter; then the NVIDIA software on it."""
        if config.gpu.provisioner == "karpenter":
            Karpenter(child(name, "karpenter"), KarpenterArgs(
                config=config.gpu, pools=config.gpu_pools, cluster=self.cluster.refs, node_role=self.cluster.node_role,
                subnet_ids=self.network.refs.private_subnet_ids, kms_key_arn=self.cluster.kms_key.arn,
                region=config.region, tags=tags), k8s_opts)
        else:
            for pool in config.gpu_pools:
                GpuNodePool(child(name, f"gpu-{pool.name}"), GpuNodePoolArgs(
                    config=pool, cluster_name=self.cluster.cluster.name, node_role_arn=self.cluster.node_role.arn,
                    subnet_ids=self.network.refs.private_subnet_ids,
                    cluster_security_group_id=self.cluster.refs.cluster_security_group_id,
                    kms_key_arn=self.cluster.kms_key.arn, tags=tags), child_opts)
        if config.gpu_pools:
            GpuSoftware(child(name, "gpu-software"), GpuSoftwareArgs(config=config.gpu, pools=config.gpu_pools), k8s_opts)

    def export(self) -> None:
        """Export the platform's documented stack outputs."""
        for key, value in self.outputs.items():
            pulumi.export(key, value)
