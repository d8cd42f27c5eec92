"""SageMakerServing alone, in the VPC of a platform stack: models from the platform's artifact bucket, captured
requests to its shared bucket (read through a StackReference). Only the `serving` section of this stack's config is
read."""

import pulumi

from mlops_infra.blocks.refs import BucketRefs, NetworkRefs
from mlops_infra.serving.config import SageMakerServingConfig
from mlops_infra.serving.sagemaker_serving import SageMakerServing, SageMakerServingArgs
from mlops_infra.stack import read_config_section

stack = pulumi.Config()
config = read_config_section(pulumi.get_project(), "serving", SageMakerServingConfig)
platform = pulumi.StackReference("platform", stack_name=stack.require("platformStack"))


shared = platform.require_output("sharedBucketName")
serving = SageMakerServing("search-serving", SageMakerServingArgs(
    config=config, tags={"owner": "search-team"},
    artifacts=BucketRefs.model_artifacts(platform),  # the bucket and its key (`modelArtifactKeyArn`)
    capture=BucketRefs(bucket_name=shared, bucket_arn=pulumi.Output.concat("arn:aws:s3:::", shared),
                       kms_key_arn=platform.require_output("dataKeyArn")),
    network=NetworkRefs.from_stack_outputs(platform)))
pulumi.export("servingEndpoints", serving.endpoints)
pulumi.export("servingRoleArn", serving.role_arn)
