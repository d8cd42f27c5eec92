"""kms-users family, raw pulumi_aws resources with the role policy built by `aws.iam.get_policy_document`: a
SageMaker training role that writes model artifacts to an S3 bucket encrypted with SSE-KMS under a customer managed
key. The key policy delegates to IAM (account root), so the
role's own policy must allow the key.

bad: the role's policy allows s3:PutObject/GetObject on the bucket but no kms:GenerateDataKey/kms:Decrypt on the
bucket's key, so every PutObject fails with AccessDenied from KMS."""

import json

import pulumi
import pulumi_aws as aws

variant = pulumi.Config("fixture").require("variant")
account = aws.get_caller_identity().account_id

key = aws.kms.Key(
    "artifacts-key",
    description="SSE-KMS key for the model artifact bucket",
    enable_key_rotation=True,
    deletion_window_in_days=30,
    policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "EnableIAMPolicies", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*", "Resource": "*"}]}),
)
aws.kms.Alias("artifacts-key", name="alias/ml-artifacts", target_key_id=key.key_id)
bucket = aws.s3.Bucket("ml-artifacts", bucket="acme-ml-artifacts-prod", force_destroy=False)
aws.s3.BucketPublicAccessBlock("ml-artifacts", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
                               ignore_public_acls=True, restrict_public_buckets=True)
aws.s3.BucketServerSideEncryptionConfiguration(
    "ml-artifacts",
    bucket=bucket.id,
    rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
            "bucket_key_enabled": True}],
)

role = aws.iam.Role("trainer-writer", name="trainer-writer", assume_role_policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                   "Action": "sts:AssumeRole",
                   "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]}))


statements = [
    {"sid": "ListArtifacts", "actions": ["s3:ListBucket"], "resources": [bucket.arn]},
    {"sid": "WriteArtifacts", "actions": ["s3:PutObject", "s3:GetObject"],
     "resources": [bucket.arn.apply(lambda arn: f"{arn}/models/*")]},
]
if variant == "good":
    statements.append({"sid": "UseArtifactKey", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
                       "resources": [key.arn]})
writer = aws.iam.get_policy_document_output(statements=statements)
aws.iam.RolePolicy("trainer-writer-artifacts", role=role.id, policy=writer.json)
