"""Grafana dashboards as plain data: GPU cluster, training jobs, model registry and feature store.

Pure (no Pulumi). Every panel names its metrics like the alert rules do, so the tests hold dashboards to the same
bar: each query parses and reads only metrics an exporter emits. Grafana's sidecar loads the rendered JSON from
ConfigMaps labelled `grafana_dashboard: "1"` (kube-prometheus-stack values `grafana.sidecar.dashboards`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .exporter_metrics import Exporter
from .monitoring_rules import DRIFT_METRIC, PREDICTION_DRIFT_METRIC, MonitoredTargets

# The uid kube-prometheus-stack gives its Prometheus datasource (values `grafana.sidecar.datasources.uid`, 82.1.0).
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
Uses = tuple[tuple[str, Exporter], ...]
"""(metric, exporter) for every series a panel reads."""


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str
    metrics: Uses
    unit: str = "short"
    legend: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel, ...]


def _gpu_cluster() -> Dashboard:
    util: Uses = (("DCGM_FI_DEV_GPU_UTIL", "dcgm-exporter"),)
    fb: Uses = (("DCGM_FI_DEV_FB_USED", "dcgm-exporter"), ("DCGM_FI_DEV_FB_FREE", "dcgm-exporter"))
    return Dashboard("mlops-gpu-cluster", "GPU cluster", (
        Panel("GPU utilization by node", "avg by (Hostname) (DCGM_FI_DEV_GPU_UTIL)", util, "percent", "{{Hostname}}"),
        Panel("GPUs allocated to pods", 'count(DCGM_FI_DEV_GPU_UTIL{exported_pod!=""}) or vector(0)', util),
        Panel("GPUs in the cluster", "count(DCGM_FI_DEV_GPU_UTIL) or vector(0)", util),
        Panel("Framebuffer used", "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)", fb,
              "percent", "{{Hostname}} gpu {{gpu}}"),
        Panel("GPU temperature", "DCGM_FI_DEV_GPU_TEMP", (("DCGM_FI_DEV_GPU_TEMP", "dcgm-exporter"),), "celsius",
              "{{Hostname}} gpu {{gpu}}"),
        Panel("Power draw", "sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)", (("DCGM_FI_DEV_POWER_USAGE", "dcgm-exporter"),),
              "watt", "{{Hostname}}"),
        Panel("Last XID error", "max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS)",
              (("DCGM_FI_DEV_XID_ERRORS", "dcgm-exporter"),), "short", "{{Hostname}} gpu {{gpu}}"),
        Panel("Nodes not Ready", 'sum(kube_node_status_condition{condition="Ready",status="true"} == 0) or vector(0)',
              (("kube_node_status_condition", "kube-state-metrics"),)),
    ))


def _training_jobs(targets: MonitoredTargets) -> Dashboard:
    ns = "|".join(sorted(set(targets.ml_namespaces))) or ".+"
    return Dashboard("mlops-training-jobs", "Training jobs", (
        Panel("Active jobs", f'sum by (namespace) (kube_job_status_active{{namespace=~"{ns}"}})',
              (("kube_job_status_active", "kube-state-metrics"),), "short", "{{namespace}}"),
        Panel("Failed jobs", f'sum by (namespace) (kube_job_failed{{condition="true",namespace=~"{ns}"}})',
              (("kube_job_failed", "kube-state-metrics"),), "short", "{{namespace}}"),
        Panel("GPUs requested", f'sum by (namespace) (kube_pod_container_resource_requests{{resource="nvidia_com_gpu",'
              f'namespace=~"{ns}"}})', (("kube_pod_container_resource_requests", "kube-state-metrics"),), "short",
              "{{namespace}}"),
        Panel("GPU utilization by workload",
              f'avg by (exported_namespace, exported_pod) (DCGM_FI_DEV_GPU_UTIL{{exported_namespace=~"{ns}"}})',
              (("DCGM_FI_DEV_GPU_UTIL", "dcgm-exporter"),), "percent", "{{exported_namespace}}/{{exported_pod}}"),
        Panel("Container restarts (1h)",
              f'sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{{namespace=~"{ns}"}}[1h]))',
              (("kube_pod_container_status_restarts_total", "kube-state-metrics"),), "short", "{{namespace}}/{{pod}}"),
    ))


def _model_registry(targets: MonitoredTargets) -> Dashboard | None:
    t = targets.model_registry
    if t is None:
        return None
    sel = f'namespace="{t.namespace}",job="{t.job}"'
    return Dashboard("mlops-model-registry", "Model registry (MLflow)", (
        Panel("Targets up", f"sum(up{{{sel}}})", (("up", "prometheus"),)),
        Panel("Requests by status", f"sum by (status) (rate(mlflow_http_request_total{{{sel}}}[5m]))",
              (("mlflow_http_request_total", "mlflow"),), "reqps", "{{status}}"),
        Panel("p95 latency", "histogram_quantile(0.95, sum by (le) "
              f"(rate(mlflow_http_request_duration_seconds_bucket{{{sel}}}[5m])))",
              (("mlflow_http_request_duration_seconds_bucket", "mlflow"),), "s"),
        Panel("Prediction drift", f"max by (model) ({PREDICTION_DRIFT_METRIC})",
              ((PREDICTION_DRIFT_METRIC, "mlops-jobs"),), "short", "{{model}}"),
    ))


def _feature_store(targets: MonitoredTargets) -> Dashboard | None:
    t, cron = targets.feature_server, targets.materialization
    if t is None and cron is None:
        return None
    panels: list[Panel] = []
    if t is not None:
        sel = f'namespace="{t.namespace}",job="{t.job}"'
        panels += [
            Panel("Targets up", f"sum(up{{{sel}}})", (("up", "prometheus"),)),
            Panel("Requests by status", f"sum by (status) (rate(feast_feature_server_request_total{{{sel}}}[5m]))",
                  (("feast_feature_server_request_total", "feast"),), "reqps", "{{status}}"),
            Panel("p95 latency", "histogram_quantile(0.95, sum by (le) "
                  f"(rate(feast_feature_server_request_latency_seconds_bucket{{{sel}}}[5m])))",
                  (("feast_feature_server_request_latency_seconds_bucket", "feast"),), "s"),
            Panel("Feature freshness", f"max by (feature_view) (feast_feature_freshness_seconds{{{sel}}})",
                  (("feast_feature_freshness_seconds", "feast"),), "s", "{{feature_view}}"),
        ]
    if cron is not None:
        panels.append(Panel(
            "Since last successful materialization",
            f'time() - kube_cronjob_status_last_successful_time{{namespace="{cron.namespace}",cronjob="{cron.name}"}}',
            (("kube_cronjob_status_last_successful_time", "kube-state-metrics"),), "s"))
    panels.append(Panel("Feature drift", f"max by (model, feature) ({DRIFT_METRIC})", ((DRIFT_METRIC, "mlops-jobs"),),
                        "short", "{{model}} {{feature}}"))
    return Dashboard("mlops-feature-store", "Feature store", tuple(panels))


def dashboards(targets: MonitoredTargets) -> list[Dashboard]:
    """The dashboards for what the platform has (a registry or feature store that does not exist gets none)."""
    found = [_gpu_cluster(), _training_jobs(targets), _model_registry(targets), _feature_store(targets)]
    return [d for d in found if d is not None]


def render(dashboard: Dashboard) -> dict[str, Any]:
    """Grafana's dashboard JSON model: time-series panels, two per row."""
    panels = [{
        "id": i + 1,
        "type": "timeseries",
        "title": p.title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
        "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": p.expr, "legendFormat": p.legend}],
    } for i, p in enumerate(dashboard.panels)]
    return {"uid": dashboard.uid, "title": dashboard.title, "tags": ["mlops"], "schemaVersion": 39, "version": 1,
            "editable": False, "timezone": "utc", "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
            "panels": panels}
