"""EventBridge's use of the alert topic's KMS key (blocks/kms.py `service_statements`), judged by the repo's IAM
evaluator on prod's key policy: this account's rules publishing to this account's topics get the data key, with or
without the source keys EventBridge does not document for SNS targets; deliveries to another account's topic that
names this key are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.plan import Inventory
from tests.iam_eval import allows
from tests.nonempty import each

ACCOUNT, OTHER = "123456789012", "210987654321"
"""The plan engine's account, and another one."""
EVENTS = "events.amazonaws.com"
TOPIC_CONTEXT = "kms:EncryptionContext:aws:sns:topicArn"


def key_policy_for_topic(plan: Inventory, topic_arn: str) -> tuple[str, list[dict[str, Any]]]:
    """(key ARN, statements) of the KMS key that encrypts the topic `topic_arn`."""
    [topic] = [t for t in plan.of_type("aws:sns/topic:Topic") if t.name.endswith("-monitoring-alerts-topic")]
    assert topic_arn.endswith(f":{topic.inputs.get('name', topic.id)}") or topic.id == topic_arn
    [key] = [k for k in plan.of_type("aws:kms/key:Key") if topic.inputs["kmsMasterKeyId"].endswith(str(k.id))]
    return topic.inputs["kmsMasterKeyId"], json.loads(key.inputs["policy"])["Statement"]


def service_may(statements: list[dict[str, Any]], service: str, action: str, key_arn: str,
                context: dict[str, str]) -> bool:
    """The key policy's statements for Service `service` allow `action` on the key in this request."""
    named = [s for s in statements if service in _list(s.get("Principal", {}).get("Service", []))]
    return allows([{"Statement": named}], action, key_arn, context)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_eventbridge_may_use_the_alert_key_for_this_accounts_topics_only(prod_plan: Inventory, action: str) -> None:
    topic_arn = prod_plan.outputs["alertTopicArn"]
    assert topic_arn.split(":")[4] == ACCOUNT
    key_arn, statements = key_policy_for_topic(prod_plan, topic_arn)
    each([s for s in statements if EVENTS in _list(s.get("Principal", {}).get("Service", []))])
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/mlops-prod-security-findings"
    ours = {TOPIC_CONTEXT: topic_arn, "aws:SourceAccount": ACCOUNT, "aws:SourceArn": rule}
    assert service_may(statements, EVENTS, action, key_arn, ours)
    # A request without the source keys (EventBridge documents none for SNS targets) is still served.
    assert service_may(statements, EVENTS, action, key_arn, {TOPIC_CONTEXT: topic_arn})
    # Another account's rule delivering to its own topic encrypted with this key: refused.
    theirs = {TOPIC_CONTEXT: f"arn:aws:sns:us-east-1:{OTHER}:their-topic", "aws:SourceAccount": OTHER,
              "aws:SourceArn": f"arn:aws:events:us-east-1:{OTHER}:rule/theirs"}
    assert not service_may(statements, EVENTS, action, key_arn, theirs)
    assert not service_may(statements, EVENTS, action, key_arn, {})  # no topic in the context: not SNS's request
