"""kms-users family, a key policy built inline with `pulumi.Output.json_dumps` from resource outputs: a CloudWatch
Logs log group for a feature pipeline, encrypted with a customer managed key.

bad: the key policy grants only the account root, not the regional CloudWatch Logs service principal
(logs.<region>.amazonaws.com); associating the key with the log group fails and nothing can be written to it."""

import pulumi
import pulumi_aws as aws

variant = pulumi.Config("fixture").require("variant")
account = aws.get_caller_identity().account_id
partition = aws.get_partition().partition
region = aws.get_region().region
LOG_GROUP = "/ml/feature-pipeline"
log_group_arn = f"arn:{partition}:logs:{region}:{account}:log-group:{LOG_GROUP}"

statements: list[dict[str, object]] = [
    {"Sid": "EnableIAMPolicies", "Effect": "Allow", "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
     "Action": "kms:*", "Resource": "*"},
]
if variant == "good":
    statements.append({
        "Sid": "AllowCloudWatchLogs", "Effect": "Allow", "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
    })
key = aws.kms.Key("logs-key", description="CMK for the feature pipeline's logs", enable_key_rotation=True,
                  policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Id": "logs-key",
                                                   "Statement": statements}))
aws.cloudwatch.LogGroup("feature-pipeline", name=LOG_GROUP, retention_in_days=90, kms_key_id=key.arn)
