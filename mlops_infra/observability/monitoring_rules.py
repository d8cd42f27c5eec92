"""The platform's Prometheus alert rules as plain data: GPU, cluster, ML services, feature freshness and drift.

Pure (no Pulumi): each rule names the metrics it relies on and the exporter that emits them, so the tests can
prove every expression parses and every metric exists (see `exporter_metrics`). `prometheus_rule_spec` renders
a group into the `spec` of a `monitoring.coreos.com/v1` PrometheusRule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import ThresholdsConfig
from .exporter_metrics import Exporter

Severity = Literal["critical", "warning", "info"]
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

DRIFT_METRIC = "mlops_feature_drift_score"
"""Data drift per model and feature, 0 (same distribution) to 1; labels `model` and `feature` (README: Drift metrics)."""
PREDICTION_DRIFT_METRIC = "mlops_prediction_drift_score"
"""Model (prediction) drift per model, 0 to 1; label `model`."""
XID_WINDOW = "10m"
"""How long GpuXidError keeps firing after the XID gauge last changed."""


@dataclass(frozen=True)
class ScrapeTarget:
    """A service Prometheus scrapes: its namespace and `job` label (the Service name, unless its ServiceMonitor
    sets `jobLabel`)."""

    namespace: str
    job: str


@dataclass(frozen=True)
class CronJobTarget:
    namespace: str
    name: str


@dataclass(frozen=True)
class MonitoredTargets:
    """What the ML rules and dashboards watch. A None target means the platform has no such service: no rule."""

    ml_namespaces: Sequence[str] = ()
    """Namespaces whose crash-looping pods page (teams, MLflow, Feast). Default: none (rule omitted)."""
    model_registry: ScrapeTarget | None = None
    feature_server: ScrapeTarget | None = None
    materialization: CronJobTarget | None = None

    def __post_init__(self) -> None:
        # Names go into PromQL strings and regexes unescaped: only RFC 1123 names are safe there.
        names = [*self.ml_namespaces]
        for t in (self.model_registry, self.feature_server):
            names += [t.namespace, t.job] if t else []
        if self.materialization:
            names += [self.materialization.namespace, self.materialization.name]
        bad = [n for n in names if not _K8S_NAME.match(n)]
        if bad:
            raise ValueError(f"not Kubernetes names: {', '.join(bad)}")


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    metrics: tuple[tuple[str, Exporter], ...]
    """(metric, exporter) for every series the expression reads."""
    description: str = ""


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[AlertRule, ...] = field(default_factory=tuple)


def _gpu_rules(t: ThresholdsConfig) -> RuleGroup:
    used, free, xid = "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_XID_ERRORS"
    return RuleGroup("mlops-gpu", (
        AlertRule(
            "GpuIdle",
            # A GPU allocated to a pod (the exporter sets pod; Prometheus keeps it as exported_pod) that does nothing.
            f'avg by (Hostname, gpu, exported_namespace, exported_pod) (DCGM_FI_DEV_GPU_UTIL{{exported_pod!=""}}) '
            f"< {t.gpu_idle_percent:g}",
            f"{t.gpu_idle_minutes}m", "warning",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} held by {{ $labels.exported_namespace }}/"
            "{{ $labels.exported_pod }} is idle",
            (("DCGM_FI_DEV_GPU_UTIL", "dcgm-exporter"),),
            f"Utilization under {t.gpu_idle_percent:g}% for {t.gpu_idle_minutes} minutes while allocated to a pod."),
        AlertRule(
            "GpuMemoryNearFull",
            f"100 * {used} / ({used} + {free}) > {t.gpu_memory_percent:g}",
            "10m", "warning",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} framebuffer is {{ $value | humanize }}% used",
            ((used, "dcgm-exporter"), (free, "dcgm-exporter")),
            f"Framebuffer above {t.gpu_memory_percent:g}%: the next allocation will fail with out-of-memory."),
        AlertRule(
            "GpuXidError",
            # DCGM_FI_DEV_XID_ERRORS is a gauge holding the *last* XID (etc/default-counters.csv, tag 4.5.1-4.8.0):
            # after one fault it stays at that value for good, so `> 0` alone would fire forever. Fire while the
            # value changed within the window (`and` keeps the XID as the alert's value), then resolve. A repeat of
            # the same XID leaves the gauge unchanged and is not seen (DCGM_EXP_XID_ERRORS_COUNT would count it, but
            # it is an opt-in collector, commented out in the upstream counters list).
            f"{xid} > 0 and changes({xid}[{XID_WINDOW}]) > 0",
            "0m", "critical",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID {{ $value }}",
            ((xid, "dcgm-exporter"),),
            "An XID is a driver-reported GPU fault; drain the node and check the XID catalog."),
    ))


def _cluster_rules(targets: MonitoredTargets) -> RuleGroup:
    rules = [AlertRule(
        "NodeNotReady",
        'kube_node_status_condition{condition="Ready",status="true"} == 0',
        "5m", "critical", "Node {{ $labels.node }} is not Ready",
        (("kube_node_status_condition", "kube-state-metrics"),))]
    if targets.ml_namespaces:
        namespaces = "|".join(sorted(set(targets.ml_namespaces)))
        rules.append(AlertRule(
            "MlPodCrashLooping",
            f'max_over_time(kube_pod_container_status_waiting_reason{{reason="CrashLoopBackOff",'
            f'namespace=~"{namespaces}"}}[5m]) >= 1',
            "15m", "warning",
            "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is crash-looping",
            (("kube_pod_container_status_waiting_reason", "kube-state-metrics"),)))
    return RuleGroup("mlops-cluster", tuple(rules))


def _service_rules(t: ThresholdsConfig, targets: MonitoredTargets) -> RuleGroup:
    rules: list[AlertRule] = []
    services: list[tuple[str, ScrapeTarget | None, str, Exporter]] = [
        ("Mlflow", targets.model_registry, "mlflow_http_request_duration_seconds_bucket", "mlflow"),
        ("FeatureServer", targets.feature_server, "feast_feature_server_request_latency_seconds_bucket", "feast"),
    ]
    for label, target, histogram, exporter in services:
        if target is None:
            continue
        sel = f'namespace="{target.namespace}",job="{target.job}"'
        rules.append(AlertRule(
            f"{label}Down", f"absent(up{{{sel}}} == 1)", "5m", "critical",
            f"{label}: no {target.namespace}/{target.job} target is up",
            (("up", "prometheus"),)))
        rules.append(AlertRule(
            f"{label}HighLatency",
            f"histogram_quantile(0.95, sum by (le) (rate({histogram}{{{sel}}}[5m]))) > {t.p95_latency_seconds:g}",
            "10m", "warning",
            f"{label} p95 latency is {{{{ $value | humanizeDuration }}}} (threshold {t.p95_latency_seconds:g}s)",
            ((histogram, exporter),)))
    return RuleGroup("mlops-services", tuple(rules))


def _feature_rules(t: ThresholdsConfig, targets: MonitoredTargets) -> RuleGroup:
    rules: list[AlertRule] = []
    cron = targets.materialization
    if cron is not None:
        rules.append(AlertRule(
            "FeatureMaterializationFailed",
            # The Job's Failed condition (it gave up after backoffLimit), not a retried pod's failure.
            f'kube_job_failed{{condition="true",namespace="{cron.namespace}"}} * on (namespace, job_name) '
            f'group_left (owner_name) '
            f'kube_job_owner{{owner_kind="CronJob",owner_name="{cron.name}",namespace="{cron.namespace}"}} > 0',
            "0m", "warning", f"Feature materialization job {{{{ $labels.job_name }}}} ({cron.name}) failed",
            (("kube_job_failed", "kube-state-metrics"), ("kube_job_owner", "kube-state-metrics"))))
        rules.append(AlertRule(
            "FeatureMaterializationLate",
            f'time() - kube_cronjob_status_last_successful_time{{namespace="{cron.namespace}",cronjob="{cron.name}"}} '
            f"> {t.materialization_late_minutes * 60}",
            "5m", "warning",
            f"Features are stale: {cron.name} last succeeded {{{{ $value | humanizeDuration }}}} ago",
            (("kube_cronjob_status_last_successful_time", "kube-state-metrics"),),
            f"No successful materialization for more than {t.materialization_late_minutes} minutes."))
    rules.append(AlertRule(
        "FeatureDrift", f"max by (model, feature) ({DRIFT_METRIC}) > {t.drift_score:g}", "15m", "warning",
        "Feature {{ $labels.feature }} of model {{ $labels.model }} drifted (score {{ $value }})",
        ((DRIFT_METRIC, "mlops-jobs"),), f"Drift score above {t.drift_score:g} (README: Drift metrics)."))
    rules.append(AlertRule(
        "PredictionDrift", f"max by (model) ({PREDICTION_DRIFT_METRIC}) > {t.drift_score:g}", "15m", "warning",
        "Predictions of model {{ $labels.model }} drifted (score {{ $value }})",
        ((PREDICTION_DRIFT_METRIC, "mlops-jobs"),), f"Drift score above {t.drift_score:g} (README: Drift metrics)."))
    return RuleGroup("mlops-features", tuple(rules))


def rule_groups(thresholds: ThresholdsConfig, targets: MonitoredTargets) -> list[RuleGroup]:
    """Every alert group, in a stable order; empty groups are dropped."""
    groups = [_gpu_rules(thresholds), _cluster_rules(targets), _service_rules(thresholds, targets),
              _feature_rules(thresholds, targets)]
    return [g for g in groups if g.rules]


def prometheus_rule_spec(group: RuleGroup) -> dict[str, Any]:
    """The PrometheusRule `spec` (camelCase, as the CRD expects) for one group."""
    return {"groups": [{"name": group.name, "rules": [
        {"alert": r.name, "expr": r.expr, "for": r.for_, "labels": {"severity": r.severity},
         "annotations": {"summary": r.summary, **({"description": r.description} if r.description else {})}}
        for r in group.rules]}]}
