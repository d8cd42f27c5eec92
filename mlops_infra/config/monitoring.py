"""Monitoring config: kube-prometheus-stack, DCGM exporter, alert thresholds, receivers and CloudWatch."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from .base import ConfigModel, Problem
from .types import ChartVersion, Email, LogRetentionDays, Percent, SecretConfigKey


class PrometheusConfig(ConfigModel):
    chart_version: ChartVersion = Field("82.1.0", description="kube-prometheus-stack chart. Default: 82.1.0.")
    retention_days: int = Field(30, ge=1, le=365, description="Prometheus retention. Default: 30 (profiles: dev 7, staging 15).")
    storage_gib: int = Field(200, ge=10, le=16384, description="gp3 volume (GiB). Default: 200 (profiles: dev 50, staging 100).")


class ThresholdsConfig(ConfigModel):
    gpu_idle_percent: Percent = Field(5.0, description="GPU idle below this utilization (%). Default: 5.")
    gpu_idle_minutes: int = Field(30, ge=5, le=1440, description="Minutes idle before alerting. Default: 30.")
    gpu_memory_percent: Percent = Field(95.0, description="GPU framebuffer used above this (%). Default: 95.")
    p95_latency_seconds: float = Field(0.5, gt=0, le=60, description="Serving p95 latency alert (s). Default: 0.5.")
    drift_score: float = Field(0.3, ge=0, le=1, description="mlops_feature_drift_score alert threshold (0-1). Default: 0.3.")
    materialization_late_minutes: int = Field(120, ge=5, le=10080, description="Materialization staleness (min). Default: 120.")


class ReceiversConfig(ConfigModel):
    """Alertmanager receivers. Slack and PagerDuty credentials are names of secret config keys."""

    email_addresses: list[Email] = Field(default_factory=list, description="SNS email subscriptions. Default: none.")
    slack_webhook_secret: SecretConfigKey | None = Field(
        None, description="Config key (secret) holding the Slack webhook URL. Default: none.")
    slack_channel: str | None = Field(None, description="Slack channel, required with slackWebhookSecret.")
    pagerduty_key_secret: SecretConfigKey | None = Field(
        None, description="Config key (secret) holding the PagerDuty routing key. Default: none.")

    def problems(self) -> Iterable[Problem]:
        if self.slack_webhook_secret and not self.slack_channel:
            yield "slackChannel", "required when slackWebhookSecret is set"
        if self.slack_channel and not self.slack_webhook_secret:
            yield "slackWebhookSecret", "a Slack receiver needs its webhook secret"


class MonitoringConfig(ConfigModel):
    enabled: bool = Field(True, description="Deploy the monitoring stack. Default: true.")
    namespace: str = Field("monitoring", description="Kubernetes namespace. Default: monitoring.")
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig, description="kube-prometheus-stack.")
    dcgm_exporter_version: ChartVersion = Field("4.8.0", description="dcgm-exporter chart. Default: 4.8.0.")
    thresholds: ThresholdsConfig = Field(default_factory=ThresholdsConfig, description="Alert thresholds.")
    receivers: ReceiversConfig = Field(default_factory=ReceiversConfig, description="Alert receivers.")
    log_retention_days: LogRetentionDays = Field(365, description="CloudWatch log retention. Default: 365 (profiles: dev 30, staging 90).")
    managed_prometheus: bool = Field(False, description="Amazon Managed Prometheus remote-write. Default: false.")
