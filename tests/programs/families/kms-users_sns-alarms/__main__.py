"""kms-users family, a key policy attached with a separate `aws.kms.KeyPolicy` resource: an SNS topic encrypted
with a customer managed key, and a CloudWatch alarm on a SageMaker endpoint that publishes to it. The topic policy
lets CloudWatch publish.

bad: the key policy grants only the account root; CloudWatch alarms (cloudwatch.amazonaws.com) get no kms:Decrypt /
kms:GenerateDataKey* on the key, so the alarm action fails ("CloudWatch Alarms does not have authorization to access
the SNS topic encryption key")."""

import json

import pulumi
import pulumi_aws as aws

variant = pulumi.Config("fixture").require("variant")
caller = aws.get_caller_identity()
region = aws.get_region().region

key = aws.kms.Key("alerts-key", description="CMK for the ML alerts topic", enable_key_rotation=True)
statements = [{"Sid": "EnableIAMPolicies", "Effect": "Allow",
               "Principal": {"AWS": f"arn:aws:iam::{caller.account_id}:root"}, "Action": "kms:*", "Resource": "*"}]
if variant == "good":
    statements.append({"Sid": "AllowCloudWatchAlarms", "Effect": "Allow",
                       "Principal": {"Service": "cloudwatch.amazonaws.com"},
                       "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"})
aws.kms.KeyPolicy("alerts-key", key_id=key.id,
                  policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))

topic = aws.sns.Topic("ml-alerts", name="ml-alerts", kms_master_key_id=key.id)
aws.sns.TopicPolicy("ml-alerts", arn=topic.arn, policy=topic.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AllowPublishAlarms", "Effect": "Allow",
                   "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": arn,
                   "Condition": {"ArnLike": {"aws:SourceArn":
                                             f"arn:aws:cloudwatch:{region}:{caller.account_id}:alarm:*"}}}]})))
aws.sns.TopicSubscription("ml-alerts-oncall", topic=topic.arn, protocol="email", endpoint="ml-oncall@example.test")

aws.cloudwatch.MetricAlarm(
    "endpoint-5xx-high",
    name="endpoint-5xx-high",
    namespace="AWS/SageMaker",
    metric_name="Invocation5XXErrors",
    dimensions={"EndpointName": "ranker-prod", "VariantName": "AllTraffic"},
    statistic="Sum",
    period=300,
    evaluation_periods=2,
    threshold=5,
    comparison_operator="GreaterThanOrEqualToThreshold",
    treat_missing_data="notBreaching",
    alarm_actions=[topic.arn],
    ok_actions=[topic.arn],
)
