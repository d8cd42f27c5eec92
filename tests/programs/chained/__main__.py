"""A small program with chained outputs, a secret and a StackReference: the plan engine's test subject."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config("demo")
key = aws.kms.Key("data-key", enable_key_rotation=True, description="demo key")
bucket = aws.s3.Bucket("data", bucket_prefix="demo-data-")
aws.s3.BucketServerSideEncryptionConfiguration(
    "data-sse",
    bucket=bucket.id,
    rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
            "bucket_key_enabled": True}],
    opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True, depends_on=[key]),
)
platform = pulumi.StackReference("platform", stack_name="acme/mlops-platform/dev")
token = config.require_secret("apiToken")
param = aws.ssm.Parameter("token", type="SecureString", value=token, key_id=key.arn)
pulumi.export("bucketArn", bucket.arn)
pulumi.export("keyArn", key.arn)
pulumi.export("clusterName", platform.get_output("clusterName"))
pulumi.export("kubeconfig", platform.get_output("kubeconfig"))
pulumi.export("token", token)
pulumi.export("summary", pulumi.Output.all(bucket.bucket, key.key_id).apply(lambda a: f"{a[0]} encrypted by {a[1]}"))
