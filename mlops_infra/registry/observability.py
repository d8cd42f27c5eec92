"""The model registry's own observability: MLflow availability and latency alerts, prediction drift, its
dashboard, and CloudWatch alarms on its database.

The tracking server's ServiceMonitor is the server's (mlflow_server.py): it knows its Service's labels and port.
Prometheus names the scrape job after that Service, so the rules select `job=<the server's Service name>`, a value
`ModelRegistry` hands over (never rebuilt from child names elsewhere). The builders are pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from ..blocks.naming import child
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import ClusterRefs
from ..observability.cloudwatch_alarms import CloudWatchAlarms, CloudWatchAlarmsArgs
from ..observability.config import ThresholdsConfig
from ..observability.contribution import add_dashboard, add_rules, thresholds_of
from ..observability.dashboards import Dashboard, Panel
from ..observability.monitoring_rules import PREDICTION_DRIFT_METRIC, AlertRule, RuleGroup, ScrapeTarget, service_rules

MLFLOW_LATENCY = "mlflow_http_request_duration_seconds_bucket"


def registry_rules(t: ThresholdsConfig, server: ScrapeTarget | None) -> RuleGroup:
    """MlflowDown and MlflowHighLatency (engine mlflow: `server` is the tracking server's scrape target), and
    PredictionDrift (any engine: serving jobs report it, README: Drift metrics)."""
    rules = service_rules("Mlflow", server, MLFLOW_LATENCY, "mlflow", t) if server else []
    rules.append(AlertRule(
        "PredictionDrift", f"max by (model) ({PREDICTION_DRIFT_METRIC}) > {t.drift_score:g}", "15m", "warning",
        "Predictions of model {{ $labels.model }} drifted (score {{ $value }})",
        ((PREDICTION_DRIFT_METRIC, "mlops-jobs"),), f"Drift score above {t.drift_score:g} (README: Drift metrics)."))
    return RuleGroup("mlops-model-registry", tuple(rules))


def registry_dashboard(server: ScrapeTarget) -> Dashboard:
    sel = server.selector
    return Dashboard("mlops-model-registry", "Model registry (MLflow)", (
        Panel("Targets up", f"sum(up{{{sel}}})", (("up", "prometheus"),)),
        Panel("Requests by status", f"sum by (status) (rate(mlflow_http_request_total{{{sel}}}[5m]))",
              (("mlflow_http_request_total", "mlflow"),), "reqps", "{{status}}"),
        Panel("p95 latency", f"histogram_quantile(0.95, sum by (le) (rate({MLFLOW_LATENCY}{{{sel}}}[5m])))",
              ((MLFLOW_LATENCY, "mlflow"),), "s"),
        Panel("Prediction drift", f"max by (model) ({PREDICTION_DRIFT_METRIC})",
              ((PREDICTION_DRIFT_METRIC, "mlops-jobs"),), "short", "{{model}}"),
    ))


@dataclass(frozen=True)
class ModelRegistryObservabilityArgs:
    monitoring: MonitoringRefs
    tags: dict[str, str]
    cluster: ClusterRefs
    """The cluster the monitoring core runs on: the rules and dashboards bind to its provider."""
    server: ScrapeTarget | None = None
    """The MLflow tracking server's scrape target. Default: none (engine sagemaker: drift alert only)."""
    database_instance_id: pulumi.Input[str] | None = None
    """The MLflow database's RDS instance identifier: CPU, storage and connection alarms. Default: none."""


class ModelRegistryObservability(pulumi.ComponentResource):
    """The registry's rules, dashboard and database alarms, contributed to a monitoring core."""

    def __init__(self, name: str, args: ModelRegistryObservabilityArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:registry:ModelRegistryObservability", name, None, args.cluster.bind(opts))
        refs, t = args.monitoring, thresholds_of(args.monitoring)
        # Moved from the MonitoringStack's `mlops-services` group (MLflow's were the only service rules it rendered).
        add_rules(self, name, refs, registry_rules(t, args.server), moved="mlops-services")
        if args.server is not None:
            add_dashboard(self, name, refs, registry_dashboard(args.server), moved="mlops-model-registry")
        self.alarms: CloudWatchAlarms | None = None
        if refs.alert_topic_arn is not None and args.database_instance_id is not None:
            # The MonitoringStack's `data-alarms` held this database's alarms (as `rds-*`): this component takes
            # its place (the feature store's alarms alias one by one, see features/observability.py).
            moved = refs.moved_from.child(CloudWatchAlarms.RELEASED_TYPE, "data-alarms") if refs.moved_from else None
            self.alarms = CloudWatchAlarms(child(name, "alarms"), CloudWatchAlarmsArgs(
                topic_arn=refs.alert_topic_arn, thresholds=t, tags=args.tags,
                rds_instance_id=args.database_instance_id, moved_from=moved), pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
