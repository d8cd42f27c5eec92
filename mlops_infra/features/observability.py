"""The feature store's own observability: materialization failures and staleness, feature-server availability and
latency, feature drift, its dashboard, and CloudWatch alarms on its DynamoDB tables and Feast SQL registry.

`FeatureStore` hands over typed values it owns: its materialization CronJob's name and namespace, its feature
server's scrape target (`feast serve --metrics`, scraped by the server's ServiceMonitor), its table names and
registry database. Every metric a rule or panel reads is in exporter_metrics.METRICS["feast"], read from Feast
0.66.0's feast/metrics.py (tests/integration/test_feast.py scrapes the running server for them).
The builders are pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ..blocks.naming import child
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import ClusterRefs
from ..observability.cloudwatch_alarms import CloudWatchAlarms, CloudWatchAlarmsArgs
from ..observability.config import ThresholdsConfig
from ..observability.contribution import add_dashboard, add_rules, thresholds_of
from ..observability.dashboards import Dashboard, Panel
from ..observability.monitoring_rules import DRIFT_METRIC, AlertRule, CronJobTarget, RuleGroup, ScrapeTarget, service_rules

SERVER_LATENCY = "feast_feature_server_request_latency_seconds_bucket"


def _materialization_rules(t: ThresholdsConfig, cron: CronJobTarget) -> list[AlertRule]:
    ns, owner = f'namespace="{cron.namespace}"', f'cronjob="{cron.name}"'
    late_minutes = max(t.materialization_late_minutes, cron.healthy_gap_minutes)
    return [
        AlertRule(
            "FeatureMaterializationFailed",
            # The Job's Failed condition (it gave up after backoffLimit), not a retried pod's failure; and only while
            # no run has succeeded since that Job started: a failed Job stays (ttlSecondsAfterFinished, history
            # limit) long after the next run recovered. Never succeeded: the right side is empty, the alert stays.
            f'(kube_job_failed{{condition="true",{ns}}} * on (namespace, job_name) group_left (owner_name) '
            f'kube_job_owner{{owner_kind="CronJob",owner_name="{cron.name}",{ns}}} > 0) '
            f"unless on (namespace, job_name) (kube_job_status_start_time{{{ns}}} "
            f"< on (namespace) group_left () kube_cronjob_status_last_successful_time{{{ns},{owner}}})",
            "0m", "warning", f"Feature materialization job {{{{ $labels.job_name }}}} ({cron.name}) failed",
            (("kube_job_failed", "kube-state-metrics"), ("kube_job_owner", "kube-state-metrics"),
             ("kube_job_status_start_time", "kube-state-metrics"),
             ("kube_cronjob_status_last_successful_time", "kube-state-metrics"))),
        AlertRule(
            "FeatureMaterializationLate",
            f"time() - kube_cronjob_status_last_successful_time{{{ns},{owner}}} > {late_minutes * 60}",
            "5m", "warning",
            f"Features are stale: {cron.name} last succeeded {{{{ $value | humanizeDuration }}}} ago",
            (("kube_cronjob_status_last_successful_time", "kube-state-metrics"),),
            f"No successful materialization for more than {late_minutes} minutes (the larger of "
            f"thresholds.materializationLateMinutes and the schedule's longest gap plus the Job deadline)."),
    ]


def feature_rules(t: ThresholdsConfig, materialization: CronJobTarget | None = None,
                  server: ScrapeTarget | None = None) -> RuleGroup:
    """FeatureServerDown/HighLatency (with a scraped server), FeatureMaterializationFailed/Late (with a
    materialization CronJob) and FeatureDrift (any engine: batch jobs push it, README: Drift metrics)."""
    rules = service_rules("FeatureServer", server, SERVER_LATENCY, "feast", t) if server else []
    rules += _materialization_rules(t, materialization) if materialization else []
    rules.append(AlertRule(
        "FeatureDrift", f"max by (model, feature) ({DRIFT_METRIC}) > {t.drift_score:g}", "15m", "warning",
        "Feature {{ $labels.feature }} of model {{ $labels.model }} drifted (score {{ $value }})",
        ((DRIFT_METRIC, "mlops-jobs"),), f"Drift score above {t.drift_score:g} (README: Drift metrics)."))
    return RuleGroup("mlops-features", tuple(rules))


def feature_store_dashboard(materialization: CronJobTarget | None = None,
                            server: ScrapeTarget | None = None) -> Dashboard:
    panels: list[Panel] = []
    if server is not None:
        sel = server.selector
        panels += [
            Panel("Targets up", f"sum(up{{{sel}}})", (("up", "prometheus"),)),
            Panel("Requests by status", f"sum by (status) (rate(feast_feature_server_request_total{{{sel}}}[5m]))",
                  (("feast_feature_server_request_total", "feast"),), "reqps", "{{status}}"),
            Panel("p95 latency", f"histogram_quantile(0.95, sum by (le) (rate({SERVER_LATENCY}{{{sel}}}[5m])))",
                  ((SERVER_LATENCY, "feast"),), "s"),
            Panel("Feature freshness", f"max by (feature_view) (feast_feature_freshness_seconds{{{sel}}})",
                  (("feast_feature_freshness_seconds", "feast"),), "s", "{{feature_view}}"),
        ]
    if materialization is not None:
        cron = materialization
        panels.append(Panel(
            "Since last successful materialization",
            f'time() - kube_cronjob_status_last_successful_time{{namespace="{cron.namespace}",cronjob="{cron.name}"}}',
            (("kube_cronjob_status_last_successful_time", "kube-state-metrics"),), "s"))
    panels.append(Panel("Feature drift", f"max by (model, feature) ({DRIFT_METRIC})", ((DRIFT_METRIC, "mlops-jobs"),),
                        "short", "{{model}} {{feature}}"))
    return Dashboard("mlops-feature-store", "Feature store", tuple(panels))


@dataclass(frozen=True)
class FeatureStoreObservabilityArgs:
    monitoring: MonitoringRefs
    tags: dict[str, str]
    cluster: ClusterRefs
    """The cluster the monitoring core runs on: the rules and dashboards bind to its provider."""
    materialization: CronJobTarget | None = None
    """The materialization CronJob (engine feast). Default: none (no materialization alerts)."""
    server: ScrapeTarget | None = None
    """The feature server's scrape target. Default: none (no server alerts)."""
    table_names: Sequence[pulumi.Input[str]] = ()
    """DynamoDB online tables: read and write throttle alarms. Default: none."""
    registry_instance_id: pulumi.Input[str] | None = None
    """RDS instance of the Feast SQL registry: the same alarms as MLflow's database. Default: none."""


class FeatureStoreObservability(pulumi.ComponentResource):
    """The feature store's rules, dashboard and data-store alarms, contributed to a monitoring core."""

    def __init__(self, name: str, args: FeatureStoreObservabilityArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:features:FeatureStoreObservability", name, None, args.cluster.bind(opts))
        refs, t = args.monitoring, thresholds_of(args.monitoring)
        add_rules(self, name, refs, feature_rules(t, args.materialization, args.server), moved="mlops-features")
        add_dashboard(self, name, refs, feature_store_dashboard(args.materialization, args.server),
                      moved="mlops-feature-store")
        self.alarms: CloudWatchAlarms | None = None
        if refs.alert_topic_arn is not None and (args.table_names or args.registry_instance_id is not None):
            # These alarms were children of the MonitoringStack's `data-alarms`, which the model registry's alarms
            # component now aliases (one component per old address): here each alarm aliases on its own.
            moved = (dataclasses.replace(refs.moved_from.child(CloudWatchAlarms.RELEASED_TYPE, "data-alarms"), parent_urn=None)
                     if refs.moved_from else None)
            self.alarms = CloudWatchAlarms(child(name, "alarms"), CloudWatchAlarmsArgs(
                topic_arn=refs.alert_topic_arn, thresholds=t, tags=args.tags, dynamodb_table_names=args.table_names,
                extra_rds_instances={"feast-registry": args.registry_instance_id}
                if args.registry_instance_id is not None else {}, moved_from=moved), pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
