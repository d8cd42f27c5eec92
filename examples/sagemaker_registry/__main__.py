"""SageMakerRegistry alone: Model Package Groups and an artifact bucket with its KMS key; no cluster needed, so no
StackReference (give `monitoring` and `cluster` refs to add its alarms and rules)."""

import pulumi

from mlops_infra.registry.config import SageMakerModelRegistryConfig
from mlops_infra.registry.sagemaker_registry import SageMakerRegistry, SageMakerRegistryArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `modelRegistry`
if not isinstance(config.model_registry, SageMakerModelRegistryConfig) or not config.model_registry.enabled:
    raise ValueError("modelRegistry: this program deploys SageMaker Model Registry (enabled: true, engine: sagemaker)")
registry = SageMakerRegistry(f"{config.name}-{config.environment}-registry", SageMakerRegistryArgs(
    config=config.model_registry, tags=config.resource_tags, protect=config.protect_stateful))
pulumi.export("artifactBucketName", registry.artifact_bucket_name)
pulumi.export("modelPackageGroupArns", registry.model_package_group_arns)
