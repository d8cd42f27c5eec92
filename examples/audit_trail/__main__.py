"""AuditTrail alone: a CloudTrail trail with its encrypted bucket and log group, recording object reads and writes
on the feature and model buckets a platform stack exports (read through a StackReference)."""

import pulumi

from mlops_infra.blocks.stack_outputs import require_output
from mlops_infra.outputs import CONTRACT
from mlops_infra.security.audit_trail import AuditTrail, AuditTrailArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `securityBaseline`
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
trail = AuditTrail(f"{config.name}-{config.environment}-audit", AuditTrailArgs(
    config=config.security_baseline, region=config.region, tags=config.resource_tags,
    protect=config.protect_stateful, data_bucket_arns=[
        pulumi.Output.concat("arn:aws:s3:::", require_output(platform, CONTRACT[attr].output, CONTRACT[attr].producer))
        for attr in ("feature_store_offline_bucket", "model_artifact_bucket")]))
