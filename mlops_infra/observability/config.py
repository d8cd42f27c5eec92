"""Monitoring config: kube-prometheus-stack, DCGM exporter, Pushgateway, alert thresholds, receivers and CloudWatch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field, StringConstraints

from ..config.base import ConfigModel, Problem
from ..config.types import ChartVersion, Email, K8sName, Percent, SecretConfigKey


class PrometheusConfig(ConfigModel):
    # Pin checked against prometheus-community/helm-charts tag kube-prometheus-stack-82.1.0 (peers pin 82.x).
    """kube-prometheus-stack: chart version, retention and storage."""
    chart_version: ChartVersion = Field("82.1.0", description="kube-prometheus-stack chart. Default: 82.1.0.")
    retention_days: int = Field(30, ge=1, le=365, description="Prometheus retention. Default: 30 (profiles: dev 7, staging 15).")
    storage_gib: int = Field(200, ge=10, le=16384, description="gp3 volume (GiB). Default: 200 (profiles: dev 50, staging 100).")
    alertmanager_storage_gib: int | None = Field(
        None, ge=1, le=100, description="Alertmanager volume (GiB, same StorageClass): its silences and notification "
        "log survive a drain or restart of its single replica. Default: none, an emptyDir (profiles: staging, prod 1).")
    storage_class: K8sName = Field(
        "gp3", description="StorageClass of the Prometheus volume (EBS CSI, gp3, encrypted; created with the cluster). "
        "Default: gp3.")


class ThresholdsConfig(ConfigModel):
    """The alert thresholds every component's rules read."""
    gpu_idle_percent: Percent = Field(5.0, description="GPU idle below this utilization (%). Default: 5.")
    gpu_idle_minutes: int = Field(30, ge=5, le=1440, description="Minutes idle before alerting. Default: 30.")
    gpu_memory_percent: Percent = Field(95.0, description="GPU framebuffer used above this (%). Default: 95.")
    p95_latency_seconds: float = Field(0.5, gt=0, le=60, description="Serving p95 latency alert (s). Default: 0.5.")
    drift_score: float = Field(0.3, ge=0, le=1, description="mlops_feature_drift_score alert threshold (0-1). Default: 0.3.")
    materialization_late_minutes: int = Field(120, ge=5, le=10080, description="Materialization staleness (min). Default: 120.")
    rds_cpu_percent: Percent = Field(80.0, description="RDS CPUUtilization alarm (%). Default: 80.")
    rds_free_storage_gib: int = Field(10, ge=1, le=65536, description="RDS FreeStorageSpace alarm (GiB). Default: 10.")
    rds_max_connections: int = Field(400, ge=1, le=100000, description="RDS DatabaseConnections alarm. Default: 400.")

    def problems(self) -> Iterable[Problem]:
        if self.gpu_idle_percent >= self.gpu_memory_percent:
            # Not the same metric, but an idle threshold this high means the config was swapped by mistake.
            yield "gpuIdlePercent", f"must be < gpuMemoryPercent ({self.gpu_idle_percent:g} >= {self.gpu_memory_percent:g})"


HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[^\s/?#]+(/\S*)?$")]


class ReceiversConfig(ConfigModel):
    """Who hears the alerts. The SNS alert topic carries everything (Alertmanager, CloudWatch alarms, EventBridge);
    its email and HTTPS subscriptions are the only receivers of CloudWatch alarms. Slack and PagerDuty hear
    Alertmanager only; their credentials are names of secret config keys."""

    email_addresses: list[Email] = Field(
        default_factory=list, description="Email subscriptions to the alert topic (each must confirm). Default: none.")
    https_endpoints: list[HttpsUrl] = Field(
        default_factory=list, description="HTTPS subscriptions to the alert topic (the endpoint must confirm; the "
        "URL is plain config, so use one that carries no credential). Default: none.")
    require_subscription: bool = Field(
        False, description="Refuse a config whose alert topic has no email or HTTPS subscription, so CloudWatch "
        "alarms and security findings reach someone. Default: false (profiles: prod true).")
    slack_webhook_secret: SecretConfigKey | None = Field(
        None, description="Config key (secret) holding the Slack webhook URL. Default: none.")
    slack_channel: str | None = Field(None, description="Slack channel, required with slackWebhookSecret.")
    pagerduty_key_secret: SecretConfigKey | None = Field(
        None, description="Config key (secret) holding the PagerDuty routing key. Default: none.")
    heartbeat_url_secret: SecretConfigKey | None = Field(
        None, description="Config key (secret) holding the URL of a dead-man's switch (healthchecks.io, Dead Man's "
        "Snitch, a PagerDuty or Opsgenie heartbeat...): Alertmanager posts the always-firing Watchdog alert there "
        "every 5 minutes, and the service pages when the posts stop (Prometheus or Alertmanager down). Default: "
        "none (Watchdog goes nowhere: nobody hears that alerting itself is down).")

    def problems(self) -> Iterable[Problem]:
        if self.require_subscription and not (self.email_addresses or self.https_endpoints):
            yield "", ("the alert topic needs at least one subscriber (emailAddresses or httpsEndpoints): CloudWatch "
                       "alarms and security findings reach no one otherwise, and Slack/PagerDuty receive only "
                       "Alertmanager (requireSubscription is on: the prod profile sets it)")
        if self.slack_webhook_secret and not self.slack_channel:
            yield "slackChannel", "required when slackWebhookSecret is set"
        if self.slack_channel and not self.slack_webhook_secret:
            yield "slackWebhookSecret", "a Slack receiver needs its webhook secret"


class MonitoringConfig(ConfigModel):
    """Monitoring (`monitoring`): the Prometheus stack, GPU metrics, thresholds and alert receivers."""
    enabled: bool = Field(True, description="Deploy the monitoring stack. Default: true.")
    namespace: K8sName = Field("monitoring", description="Kubernetes namespace. Default: monitoring.")
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig, description="kube-prometheus-stack.")
    # Pin checked against NVIDIA/dcgm-exporter tag 4.5.1-4.8.0 (deployment/Chart.yaml version 4.8.0; peers pin 4.8.x).
    dcgm_exporter_version: ChartVersion = Field("4.8.0", description="dcgm-exporter chart. Default: 4.8.0.")
    # Pin checked against prometheus-community/helm-charts tag prometheus-pushgateway-3.8.0 (appVersion v1.11.3).
    pushgateway_version: ChartVersion = Field(
        "3.8.0", description="prometheus-pushgateway chart (batch jobs push drift scores here). Default: 3.8.0.")
    thresholds: ThresholdsConfig = Field(default_factory=ThresholdsConfig, description="Alert thresholds.")
    receivers: ReceiversConfig = Field(default_factory=ReceiversConfig, description="Alert receivers.")
    managed_prometheus: bool = Field(False, description="Amazon Managed Prometheus remote-write. Default: false.")
