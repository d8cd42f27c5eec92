"""SageMakerFeatureStore alone: feature groups with an S3 offline store and their KMS key; no cluster needed, so no
StackReference (give `monitoring` and `cluster` refs to add its CloudWatch alarms and rules)."""

import pulumi

from mlops_infra.features.config import SageMakerFeatureStoreConfig
from mlops_infra.features.sagemaker_store import SageMakerFeatureStore, SageMakerFeatureStoreArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `featureStore`
if not isinstance(config.feature_store, SageMakerFeatureStoreConfig) or not config.feature_store.enabled:
    raise ValueError("featureStore: this program deploys SageMaker Feature Store (enabled: true, engine: sagemaker)")
store = SageMakerFeatureStore(f"{config.name}-{config.environment}-features", SageMakerFeatureStoreArgs(
    config=config.feature_store, tags=config.resource_tags, protect=config.protect_stateful))
pulumi.export("featureGroupNames", store.group_names)
