"""ThreatDetection alone: GuardDuty (its protections as features) and IAM Access Analyzer for the account, with
findings above a severity routed to an SNS topic the program makes. The topic is encrypted with a customer key whose
policy lets EventBridge use it (an AWS-managed SNS key admits no service publisher), and only EventBridge rules of
this account may publish to it (`aws:SourceAccount`, `aws:SourceArn`: no confused deputy)."""

import pulumi
import pulumi_aws as aws

from mlops_infra.blocks import iam
from mlops_infra.blocks.kms import KmsKey, KmsKeyArgs
from mlops_infra.security.threat_detection import ThreatDetection, ThreatDetectionArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `securityBaseline`
name = f"{config.name}-{config.environment}"
account = aws.get_caller_identity_output().account_id
partition = aws.get_partition_output().partition
key = KmsKey(f"{name}-security-alerts-key", KmsKeyArgs(  # Decrypt and GenerateDataKey* for events.amazonaws.com
    description=f"{name} security alerts topic", tags=config.resource_tags,
    service_principals=["events.amazonaws.com"], protect=config.protect_stateful))
alerts = aws.sns.Topic(f"{name}-security-alerts", kms_master_key_id=key.arn, tags=config.resource_tags)
rules = pulumi.Output.format("arn:{0}:events:{1}:{2}:rule/*", partition, config.region, account)
aws.sns.TopicPolicy(f"{name}-security-alerts", arn=alerts.arn, policy=iam.document([iam.statement(
    "EventBridgeRulesOfThisAccountPublish", ["sns:Publish"], [alerts.arn],
    principals={"Service": "events.amazonaws.com"},
    conditions={"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": rules}})]))
detection = ThreatDetection(f"{name}-threats", ThreatDetectionArgs(
    config=config.security_baseline, tags=config.resource_tags, alert_topic_arn=alerts.arn))
if detection.detector_id is not None:
    pulumi.export("guarddutyDetectorId", detection.detector_id)
