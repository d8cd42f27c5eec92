"""AlertRouting: where alerts go. An encrypted SNS topic (CloudWatch, EventBridge and Alertmanager publish to it),
its email subscriptions, and Alertmanager's config as a Kubernetes Secret whose data is a Pulumi secret, because
it carries the Slack webhook URL and the PagerDuty routing key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from ..blocks import iam
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.kms import KmsKey
from ..blocks.naming import child, child_options, retyped
from ..blocks.refs import ClusterRefs
from .config import ReceiversConfig

ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"
"""The key the Prometheus Operator reads from an Alertmanager `configSecret`."""


@dataclass(frozen=True)
class AlertRoutingArgs:
    receivers: ReceiversConfig
    namespace: pulumi.Input[str]
    kms_key: KmsKey
    """Customer key of the topic; its policy must let cloudwatch.amazonaws.com and events.amazonaws.com use it."""
    cluster: ClusterRefs
    region: str
    tags: dict[str, str]
    slack_webhook_url: pulumi.Input[str] | None = None
    """Required when `receivers.slackWebhookSecret` is set (e.g. `stack.secret_config(key)`). Default: none."""
    pagerduty_routing_key: pulumi.Input[str] | None = None
    """Required when `receivers.pagerdutyKeySecret` is set. Default: none."""
    heartbeat_url: pulumi.Input[str] | None = None
    """Required when `receivers.heartbeatUrlSecret` is set. Default: none."""
    service_account: str = "alertmanager"
    """Alertmanager's ServiceAccount (bound to the role that publishes to the topic). Default: alertmanager."""


CHART_INHIBIT_RULES: tuple[dict[str, Any], ...] = (
    {"source_matchers": ["severity = critical"], "target_matchers": ["severity =~ warning|info"],
     "equal": ["namespace", "alertname"]},
    {"source_matchers": ["severity = warning"], "target_matchers": ["severity = info"],
     "equal": ["namespace", "alertname"]},
    {"source_matchers": ["alertname = InfoInhibitor"], "target_matchers": ["severity = info"], "equal": ["namespace"]},
    {"target_matchers": ["alertname = InfoInhibitor"]},
)
"""The inhibit rules of kube-prometheus-stack's own Alertmanager config (values `alertmanager.config`, 82.1.0):
the chart's `InfoInhibitor` and its info-severity alerts are written for them, and our Secret replaces that config
whole (`useExistingSecret`), so they are kept here (tests/observability/test_alerting.py compares them with the
chart rendered at the pin)."""
HEARTBEAT_REPEAT = "5m"
"""How often a firing Watchdog reaches the heartbeat receiver: the dead-man's switch must expect a ping at least this
often (README: Alert routing)."""


def alertmanager_config(topic_arn: str, region: str, slack_url: str | None, slack_channel: str | None,
                        pagerduty_key: str | None, heartbeat_url: str | None = None) -> dict[str, Any]:
    """Routing: Watchdog to the heartbeat (a dead-man's switch that pages when the pings stop) or, without one, to
    nowhere; InfoInhibitor to nowhere; critical to PagerDuty; everything to Slack and to the SNS topic."""
    receivers: list[dict[str, Any]] = [
        {"name": "null"},
        {"name": "sns", "sns_configs": [{"topic_arn": topic_arn, "sigv4": {"region": region}, "send_resolved": True}]},
    ]
    routes: list[dict[str, Any]] = []
    if heartbeat_url is not None:
        receivers.append({"name": "heartbeat", "webhook_configs": [{"url": heartbeat_url, "send_resolved": False}]})
        routes.append({"receiver": "heartbeat", "matchers": ['alertname="Watchdog"'], "group_wait": "0s",
                       "group_interval": "1m", "repeat_interval": HEARTBEAT_REPEAT})
    routes.append({"receiver": "null", "matchers": ['alertname=~"Watchdog|InfoInhibitor"']})
    if pagerduty_key is not None:
        receivers.append({"name": "pagerduty", "pagerduty_configs": [{"routing_key": pagerduty_key, "send_resolved": True}]})
        routes.append({"receiver": "pagerduty", "matchers": ['severity="critical"'], "continue": True})
    if slack_url is not None:
        receivers.append({"name": "slack", "slack_configs": [
            {"api_url": slack_url, "channel": slack_channel, "send_resolved": True,
             "title": '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}',
             "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}"}]})
        routes.append({"receiver": "slack", "continue": True})
    routes.append({"receiver": "sns"})
    return {
        "route": {"receiver": "sns", "group_by": ["alertname", "namespace"], "group_wait": "30s",
                  "group_interval": "5m", "repeat_interval": "4h", "routes": routes},
        "inhibit_rules": [dict(rule) for rule in CHART_INHIBIT_RULES],
        "receivers": receivers,
    }


def _topic_policy(topic_arn: pulumi.Output[str], identity: Any) -> pulumi.Output[str]:
    """CloudWatch alarms of this account publish; so does EventBridge, without a condition: EventBridge's user guide
    (resource-based policies, "Amazon SNS permissions") says Condition blocks cannot be used in SNS topic policies
    for EventBridge, so one here would drop every finding it routes. The topic's key admits EventBridge only for
    this account's topics (blocks/kms.py)."""
    return iam.document([
        iam.statement("ServicesPublish", ["sns:Publish"], [topic_arn], principals={"Service": ["cloudwatch.amazonaws.com"]},
                      conditions={"StringEquals": {"aws:SourceAccount": identity.account_id}}),
        iam.statement("EventBridgePublish", ["sns:Publish"], [topic_arn],
                      principals={"Service": ["events.amazonaws.com"]}),
    ])


class AlertRouting(pulumi.ComponentResource):
    """Alert routing: the SNS alert topic and the Alertmanager configuration (receivers, routes, inhibitions)."""
    topic_arn: pulumi.Output[str]
    config_secret_name: pulumi.Output[str]
    service_account_name: pulumi.Output[str]

    def __init__(self, name: str, args: AlertRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:observability:AlertRouting", name, None,
                         retyped(args.cluster.bind(opts), "mlops:alerting:AlertRouting"))
        recv = args.receivers
        # The config validation names the secret keys; this guards callers that build args by hand.
        if recv.slack_webhook_secret and args.slack_webhook_url is None:
            raise ValueError(f"{name}: receivers.slackWebhookSecret is set but no slack_webhook_url was given")
        if recv.pagerduty_key_secret and args.pagerduty_routing_key is None:
            raise ValueError(f"{name}: receivers.pagerdutyKeySecret is set but no pagerduty_routing_key was given")
        if recv.heartbeat_url_secret and args.heartbeat_url is None:
            raise ValueError(f"{name}: receivers.heartbeatUrlSecret is set but no heartbeat_url was given")

        topic = aws.sns.Topic(child(name, "topic"), kms_master_key_id=args.kms_key.arn, tags=args.tags, opts=child_options(self))
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        aws.sns.TopicPolicy(child(name, "topic-policy"), arn=topic.arn, policy=_topic_policy(topic.arn, identity),
                            opts=child_options(self))
        # The topic's only human receivers for CloudWatch alarms and EventBridge findings (Alertmanager also
        # reaches Slack and PagerDuty directly). Both protocols stay "pending confirmation" until the endpoint
        # confirms; a prod config without one is refused (`receivers.requireSubscription`).
        for i, address in enumerate(recv.email_addresses):
            aws.sns.TopicSubscription(child(name, f"email-{i}"), topic=topic.arn, protocol="email", endpoint=address,
                                      opts=child_options(self))
        for i, url in enumerate(recv.https_endpoints):
            aws.sns.TopicSubscription(child(name, f"https-{i}"), topic=topic.arn, protocol="https", endpoint=url,
                                      opts=child_options(self))

        # Alertmanager's SNS receiver signs with the pod's web identity: publish to this topic only.
        publisher = WorkloadIdentity(child(name, "alertmanager"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=args.namespace, service_account=args.service_account, tags=args.tags,
            statements=[iam.statement("PublishAlerts", ["sns:Publish"], [topic.arn]),
                        args.kms_key.use_statement("EncryptAlerts")]),
            child_options(self))

        rendered: pulumi.Output[str] = pulumi.Output.all(
            topic.arn, args.slack_webhook_url, args.pagerduty_routing_key, args.heartbeat_url).apply(
            lambda a: yaml.safe_dump(alertmanager_config(
                str(a[0]), args.region, a[1] if recv.slack_webhook_secret else None, recv.slack_channel,
                a[2] if recv.pagerduty_key_secret else None, a[3] if recv.heartbeat_url_secret else None),
                sort_keys=False))
        config_text: pulumi.Output[str] = pulumi.Output.secret(rendered)
        config_name = child(name, "alertmanager-config")
        secret = k8s.core.v1.Secret(
            config_name,
            metadata={"name": config_name, "namespace": args.namespace,
                      "labels": {"app.kubernetes.io/part-of": "mlops-platform"}},
            type="Opaque",
            string_data={ALERTMANAGER_CONFIG_KEY: config_text},
            opts=child_options(self))

        self.topic_arn = topic.arn
        self.config_secret_name = secret.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))
        self.service_account_name = publisher.service_account_name
        self.register_outputs({"topicArn": self.topic_arn, "configSecretName": self.config_secret_name,
                               "serviceAccountName": self.service_account_name})
