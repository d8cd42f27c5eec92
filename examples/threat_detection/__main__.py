"""ThreatDetection alone: GuardDuty (its protections as features) and IAM Access Analyzer for the account, with
findings above a severity routed to an SNS topic the program makes."""

import pulumi
import pulumi_aws as aws

from mlops_infra.security.threat_detection import ThreatDetection, ThreatDetectionArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `securityBaseline`
alerts = aws.sns.Topic(f"{config.name}-{config.environment}-security-alerts", tags=config.resource_tags)
aws.sns.TopicPolicy(f"{config.name}-{config.environment}-security-alerts", arn=alerts.arn,
                    policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
                        "Resource": alerts.arn}]}))
detection = ThreatDetection(f"{config.name}-{config.environment}-threats", ThreatDetectionArgs(
    config=config.security_baseline, tags=config.resource_tags, alert_topic_arn=alerts.arn))
if detection.detector_id is not None:
    pulumi.export("guarddutyDetectorId", detection.detector_id)
