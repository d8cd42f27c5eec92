"""ModelRegistry alone (MLflow), on the cluster and VPC of a platform stack (read through a StackReference)."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs
from mlops_infra.registry.model_registry import ModelRegistry, ModelRegistryArgs
from mlops_infra.stack import read_platform_config

config = read_platform_config()  # this stack's `mlops:platform`; `modelRegistry` and what the cluster runs are read
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
cluster = ClusterRefs.from_stack_outputs(
    platform, version=config.cluster.version, workload_identity=config.cluster.workload_identity,
    load_balancer_controller=config.cluster.load_balancer_controller)  # the platform's cluster runs the controller
registry = ModelRegistry(f"{config.name}-{config.environment}-registry", ModelRegistryArgs(
    config=config.model_registry, tags=config.resource_tags, network=NetworkRefs.from_stack_outputs(platform),
    cluster=cluster, protect=config.protect_stateful, name_prefix=f"{config.name}-{config.environment}"))
pulumi.export("trackingUri", registry.tracking_uri)
pulumi.export("artifactBucketName", registry.artifact_bucket_name)
