"""Karpenter's interruption queue: EC2 and AWS Health events about its nodes (Spot interruption warnings, rebalance
recommendations, state changes, scheduled maintenance) reach an SQS queue the controller reads (`settings.
interruptionQueue`), so it drains and replaces a node before AWS takes it away. Shape from Karpenter's own
getting-started CloudFormation at v1.9 (website/content/en/v1.9/getting-started/getting-started-with-karpenter/
cloudformation.yaml): a queue keeping messages 300 s with SSE, a policy letting EventBridge (and SQS) send and
denying non-TLS access, four EventBridge rules targeting it, and sqs:DeleteMessage/GetQueueUrl/ReceiveMessage on it
for the controller."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.naming import child, child_options

EVENTS: dict[str, tuple[str, str]] = {
    "health": ("aws.health", "AWS Health Event"),
    "spot": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "state": ("aws.ec2", "EC2 Instance State-change Notification"),
}
CONTROLLER_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage")


def queue_policy(queue_arn: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Id": "EC2InterruptionPolicy", "Statement": [
        {"Sid": "EventBridgeSends", "Effect": "Allow",
         "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
         "Action": "sqs:SendMessage", "Resource": queue_arn},
        {"Sid": "DenyHTTP", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": queue_arn,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}, sort_keys=True)


def controller_statement(queue_arn: pulumi.Input[str]) -> iam.Statement:
    return iam.statement("InterruptionQueue", CONTROLLER_ACTIONS, [queue_arn])


def interruption_queue(name: str, parent: pulumi.Resource, tags: dict[str, str]) -> aws.sqs.Queue:
    """The queue, its policy and the EventBridge rules that feed it; children of `parent` named `<name>-...`."""
    queue = aws.sqs.Queue(child(name, "interruption"), message_retention_seconds=300, sqs_managed_sse_enabled=True,
                          tags=tags, opts=child_options(parent))
    aws.sqs.QueuePolicy(child(name, "interruption-policy"), queue_url=queue.url,
                        policy=queue.arn.apply(queue_policy), opts=child_options(parent))
    for key, (source, detail_type) in EVENTS.items():
        rule = aws.cloudwatch.EventRule(
            child(name, f"interruption-{key}"), description=f"{detail_type} to Karpenter's interruption queue",
            event_pattern=json.dumps({"source": [source], "detail-type": [detail_type]}, sort_keys=True),
            tags=tags, opts=child_options(parent))
        aws.cloudwatch.EventTarget(child(name, f"interruption-{key}-target"), rule=rule.name, arn=queue.arn,
                                   target_id="KarpenterInterruptionQueueTarget", opts=child_options(parent))
    return queue
