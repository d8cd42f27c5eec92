"""Alert routing and CloudWatch alarms of the monitoring program (tests/programs/monitoring): the encrypted alert
topic and its subscriptions, what Alertmanager may publish, the alarms and the topic they notify, and a receiver
configured without its secret."""

from __future__ import annotations

import json
import re

import pytest

from mlops_infra.plan import Inventory, PlanError
from tests.conftest import planned
from tests.nonempty import each
from tests.observability.conftest import ALARM, LOG_GROUP, PROGRAM, release

# --- Alert topic, CloudWatch, KMS ----------------------------------------------------------------------------------


def test_alert_topic_is_encrypted_with_a_key_cloudwatch_and_eventbridge_may_use(full: Inventory) -> None:
    [key] = full.of_type("aws:kms/key:Key")
    [topic] = full.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].endswith(key.id)
    assert key.inputs["enableKeyRotation"] is True
    services: set[str] = set()
    for statement in json.loads(key.inputs["policy"])["Statement"]:
        named = statement.get("Principal", {}).get("Service", [])
        services |= {named} if isinstance(named, str) else set(named)
    assert services == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}  # the topic's publishers, no Logs
    [policy] = full.of_type("aws:sns/topicPolicy:TopicPolicy")
    publish, events = json.loads(policy.inputs["policy"])["Statement"]
    for statement in (publish, events):
        assert statement["Action"] == ["sns:Publish"] and statement["Resource"] == [full.outputs["alertTopicArn"]]
    assert publish["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    # EventBridge's user guide ("Amazon SNS permissions"): no Condition block in an SNS topic policy for EventBridge.
    assert events["Principal"] == {"Service": ["events.amazonaws.com"]} and "Condition" not in events
    subscriptions = sorted((s.inputs["protocol"], s.inputs["endpoint"], s.inputs["topic"])
                           for s in full.of_type("aws:sns/topicSubscription:TopicSubscription"))
    assert subscriptions == [("email", "ml-team@example.com", full.outputs["alertTopicArn"]),
                             ("email", "oncall@example.com", full.outputs["alertTopicArn"]),
                             ("https", "https://alerts.example.com/sns", full.outputs["alertTopicArn"])]


def test_the_prod_stack_plans_a_subscription_on_its_alert_topic(prod_plan: Inventory) -> None:
    """stacks/Pulumi.prod.yaml: someone hears CloudWatch alarms and security findings (the topic's only receivers)."""
    [topic] = [t for t in prod_plan.of_type("aws:sns/topic:Topic") if t.name.endswith("-monitoring-alerts-topic")]
    arn = prod_plan.outputs["alertTopicArn"]
    assert topic.id == arn  # an SNS topic's id is its ARN
    subscribed = [(s.inputs["protocol"], s.inputs["endpoint"])
                  for s in prod_plan.of_type("aws:sns/topicSubscription:TopicSubscription") if s.inputs["topic"] == arn]
    assert subscribed and all(protocol in {"email", "https"} for protocol, _ in subscribed)


def test_alertmanager_may_publish_to_the_topic_only(full: Inventory) -> None:
    policy = json.loads(full.named("mlops-prod-monitoring-alerts-alertmanager-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["PublishAlerts"] == {"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"],
                                       "Resource": [full.outputs["alertTopicArn"]]}
    assert all("*" not in action for s in each(policy["Statement"]) for action in s["Action"] if action != "kms:ReEncrypt*")
    sa = full.named("mlops-prod-monitoring-alerts-alertmanager-sa")
    kps = release(full, "kube-prometheus-stack").inputs["values"]
    assert kps["alertmanager"]["serviceAccount"] == {"create": False, "name": sa.inputs["metadata"]["name"]}


def test_cloudwatch_alarms_cover_rds_dynamodb_nat_and_eks_and_notify_the_topic(full: Inventory) -> None:
    owners = ("cluster", "registry", "features")
    alarms = {r.name.split("-observability-alarms-")[1]: r.inputs for r in full.of_type(ALARM)}
    assert sorted(alarms) == [
        "dynamodb-0-read-throttles", "dynamodb-0-write-throttles", "eks-failed-nodes",
        "nat-0-port-allocation-errors", "nat-1-port-allocation-errors",
        "rds-connections", "rds-cpu", "rds-feast-registry-connections", "rds-feast-registry-cpu",
        "rds-feast-registry-free-storage", "rds-free-storage"]
    # Each owner's alarms are its own: the cluster's NAT and node alarms, the registry's database, the store's tables.
    by_owner = {o: sorted(r.name.split("-observability-alarms-")[1] for r in full.of_type(ALARM)
                          if r.name.startswith(f"mlops-prod-{o}-observability-")) for o in owners}
    assert by_owner["registry"] == ["rds-connections", "rds-cpu", "rds-free-storage"]
    assert by_owner["features"][:2] == ["dynamodb-0-read-throttles", "dynamodb-0-write-throttles"]
    topic = full.outputs["alertTopicArn"]
    for alarm in each(alarms.values()):
        assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic]
    assert (alarms["rds-cpu"]["metricName"], alarms["rds-cpu"]["threshold"]) == ("CPUUtilization", 80)
    assert alarms["rds-cpu"]["dimensions"] == {"DBInstanceIdentifier": "mlops-prod-mlflow"}
    assert alarms["rds-free-storage"]["threshold"] == 10 * 1024**3
    assert alarms["rds-free-storage"]["comparisonOperator"] == "LessThanThreshold"
    assert alarms["rds-connections"]["threshold"] == 400
    assert alarms["dynamodb-0-write-throttles"]["dimensions"] == {"TableName": "mlops-prod-online"}
    assert alarms["rds-feast-registry-cpu"]["dimensions"] == {"DBInstanceIdentifier": "mlops-prod-feast-registry"}
    assert alarms["nat-1-port-allocation-errors"]["dimensions"] == {"NatGatewayId": "nat-0aaaaaaaaaaaaaaa2"}
    assert (alarms["eks-failed-nodes"]["namespace"], alarms["eks-failed-nodes"]["dimensions"]) == (
        "ContainerInsights", {"ClusterName": "mlops-test"})


def test_the_failed_node_alarm_exists_only_where_the_agent_that_emits_its_metric_runs(
        full: Inventory, minimal: Inventory) -> None:
    """cluster_failed_node_count (namespace ContainerInsights) is published only by the CloudWatch agent of the
    amazon-cloudwatch-observability add-on. `full` runs it, `minimal` does not: an alarm there would never leave
    INSUFFICIENT_DATA. The agent's log groups belong to the cluster that installs the add-on, so none here."""
    reads = {(r.inputs["namespace"], r.inputs["metricName"]) for inv in (full, minimal) for r in inv.of_type(ALARM)}
    insights = {metric for namespace, metric in reads if namespace == "ContainerInsights"}
    assert insights == {"cluster_failed_node_count"}
    assert [r.name for r in full.of_type(ALARM) if r.inputs["namespace"] == "ContainerInsights"] == [
        "mlops-prod-cluster-observability-alarms-eks-failed-nodes"]
    assert [r for r in minimal.of_type(ALARM) if r.inputs["namespace"] == "ContainerInsights"] == []
    assert full.of_type(LOG_GROUP) == [] and minimal.of_type(LOG_GROUP) == []


def test_a_configured_receiver_without_its_secret_value_is_refused() -> None:
    with pytest.raises(PlanError) as info:
        planned("nosecret", PROGRAM)
    # The component's line that raised, then the program's line that built it (tests/test_program_errors.py).
    assert re.fullmatch(re.escape("ValueError: mlops-dev-monitoring-alerts: receivers.slackWebhookSecret is set but no "
                                  "slack_webhook_url was given") + r" \(at \S*mlops_infra/observability/alerting\.py:\d+, "
                        r"called from \S*tests/programs/monitoring/__main__\.py:\d+\)", str(info.value)), str(info.value)
