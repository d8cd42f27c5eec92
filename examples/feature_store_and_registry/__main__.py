"""Both README "alone" examples in one program: FeatureStore and ModelRegistry on one platform stack's cluster.

One StackReference and one Kubernetes provider (`cluster_provider`, made once); both components' ClusterRefs take
it, so nothing is registered twice."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.features.feast_store import FeastFeatureStore
from mlops_infra.features.feature_store import FeatureStore, FeatureStoreArgs
from mlops_infra.registry.model_registry import ModelRegistry, ModelRegistryArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # `featureStore` and `modelRegistry` are read
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
network = NetworkRefs.from_stack_outputs(platform)
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # what the cluster runs: the platform's outputs
store = FeatureStore(f"{config.name}-{config.environment}-features", FeatureStoreArgs(
    config=config.feature_store, tags=config.resource_tags, network=network, cluster=cluster,
    protect=config.protect_stateful))
registry = ModelRegistry(f"{config.name}-{config.environment}-registry", ModelRegistryArgs(
    config=config.model_registry, tags=config.resource_tags, network=network, cluster=cluster,
    protect=config.protect_stateful, name_prefix=f"{config.name}-{config.environment}"))
if isinstance(store, FeastFeatureStore):  # the engine this stack configures (`featureStore.engine`, default feast)
    pulumi.export("featureStoreYaml", store.feature_store_yaml)
pulumi.export("trackingUri", registry.tracking_uri)
