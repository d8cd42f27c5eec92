"""FeastFeatureStore alone, on the cluster and VPC of a platform stack (read through a StackReference)."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.features.feast_store import FeastFeatureStore, FeastFeatureStoreArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `featureStore`
if config.feast is None:  # `featureStore` when it is enabled and its engine is feast
    raise ValueError("featureStore: this program deploys Feast (enabled: true, engine: feast)")
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
network = NetworkRefs.from_stack_outputs(platform)  # the VPC id, CIDR and private subnets: Outputs
# The cluster's one Kubernetes provider, built from the stack's secret `kubeconfig` output (refs register nothing);
# every Kubernetes child of the store binds to it. What the cluster runs (version, workload identity, controllers)
# comes from the platform's outputs.
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))
cluster = ClusterRefs.from_stack_outputs(platform, provider)
store = FeastFeatureStore(f"{config.name}-{config.environment}-features", FeastFeatureStoreArgs(
    config=config.feast, tags=config.resource_tags, network=network, cluster=cluster,
    protect=config.protect_stateful))
pulumi.export("featureStoreYaml", store.feature_store_yaml)
pulumi.export("featureStoreReadPolicyArn", store.read_policy.arn)  # for consumer stacks' roles (grant_read)
