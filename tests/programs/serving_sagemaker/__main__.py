"""SageMakerServing alone (engine sagemaker), reading models from an artifact bucket made elsewhere."""

import pulumi

from mlops_infra.blocks.refs import BucketRefs, NetworkRefs
from mlops_infra.serving.config import SageMakerServingConfig
from mlops_infra.serving.sagemaker_serving import SageMakerServing, SageMakerServingArgs

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
config = SageMakerServingConfig.model_validate({"enabled": True, "engine": "sagemaker", "models": [
    {"name": "churn", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlflow-pyfunc:3.14.0",
     "artifactPath": "artifacts/1/models/m-5f0c2d9e8a7b4c3d/artifacts", "minInstances": 1, "maxInstances": 3},
    # g5: local NVMe instance storage (CreateEndpointConfig refuses a KmsKeyId for it).
    {"name": "ranker", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlflow-pyfunc:3.14.0",
     "artifactPath": "artifacts/2/models/m-0a1b2c3d4e5f6a7b/artifacts", "instanceType": "ml.g5.2xlarge"}]})
serving = SageMakerServing("prod-serving", SageMakerServingArgs(
    config=config, tags={"owner": "ml", "environment": "prod"},
    artifacts=BucketRefs("prod-artifacts", "arn:aws:s3:::prod-artifacts", KEY),
    capture=BucketRefs("prod-shared", "arn:aws:s3:::prod-shared", KEY),
    network=NetworkRefs.existing("vpc-0123456789abcdef0", "10.0.0.0/16", ["subnet-0a", "subnet-0b"])))
pulumi.export("endpoints", serving.endpoints)
