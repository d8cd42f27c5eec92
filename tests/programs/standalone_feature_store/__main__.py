"""FeatureStore alone, on the cluster and VPC of a platform stack (read through a StackReference)."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs
from mlops_infra.features.feature_store import FeatureStore, FeatureStoreArgs
from mlops_infra.stack import read_platform_config

config = read_platform_config()  # this stack's `mlops:platform`; only `featureStore` is read
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
network = NetworkRefs.from_stack_outputs(platform)  # the VPC id, CIDR and private subnets: Outputs
# The provider is built from the stack's `kubeconfig` output; every Kubernetes child of the store binds to it.
cluster = ClusterRefs.from_stack_outputs(platform, version=config.cluster.version,
                                         workload_identity=config.cluster.workload_identity)
store = FeatureStore(f"{config.name}-{config.environment}-features", FeatureStoreArgs(
    config=config.feature_store, tags=config.resource_tags, network=network, cluster=cluster,
    protect=config.protect_stateful))
pulumi.export("featureStoreYaml", store.feature_store_yaml)
