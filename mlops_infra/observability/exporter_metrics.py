"""The metrics each exporter really emits, in one place, each list with where it was read (Nov 2026).

Alert rules and dashboards may only use metrics listed here; the tests parse every expression and check it.
Pure data: no Pulumi.
"""

from __future__ import annotations

from typing import Literal

Exporter = Literal["dcgm-exporter", "kube-state-metrics", "node-exporter", "prometheus", "mlflow", "feast", "mlops-jobs"]

# The counters the DCGM exporter is configured with (rendered into the chart's `customMetrics`, so this list *is*
# what it emits). Each line is copied from the upstream default list: NVIDIA/dcgm-exporter etc/default-counters.csv
# and deployment/templates/metrics-configmap.yaml at tag 4.5.1-4.8.0. Profiling (DCGM_FI_PROF_*) counters are left
# out on purpose: they need CAP_SYS_ADMIN in the exporter (deployment/values.yaml, securityContext comment).
DCGM_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "Total number of NVLink bandwidth counters for all lanes."),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
    ("DCGM_FI_DRIVER_VERSION", "label", "Driver Version"),
)

# Labels the DCGM exporter puts on every GPU series. `pod`, `namespace` and `container` name the workload that holds
# the GPU (internal/pkg/transformation/const.go); Prometheus renames them `exported_pod`, `exported_namespace` and
# `exported_container` because the ServiceMonitor keeps `honorLabels: false` (the target's own labels win).
DCGM_WORKLOAD_LABELS = ("exported_pod", "exported_namespace", "exported_container")

# Namespace labels kube-state-metrics exposes on `kube_namespace_labels` (its `--metric-labels-allowlist`; by default
# none): `mlops.io/team`, carried by platform team namespaces and team workspaces (compute/training_foundations.py
# TEAM_LABEL, platform/team_workspace.py), so ML alerts and dashboards find namespaces other stacks create. KSM
# prefixes `label_` and turns characters invalid in a Prometheus label name into `_`.
KSM_NAMESPACE_LABELS = ("mlops.io/team",)
TEAM_METRIC_LABEL = "label_mlops_io_team"

METRICS: dict[Exporter, frozenset[str]] = {
    "dcgm-exporter": frozenset(name for name, kind, _ in DCGM_COUNTERS if kind != "label"),
    # kubernetes/kube-state-metrics docs/metrics/{cluster/node,cluster/namespace,workload/pod,workload/job,workload/cronjob,
    # workload/deployment}-metrics.md at v2.20.0 (kube-prometheus-stack 82.1.0 ships the kube-state-metrics chart 7.1.0).
    "kube-state-metrics": frozenset({
        "kube_node_status_condition", "kube_node_status_allocatable", "kube_pod_container_status_waiting_reason",
        "kube_pod_container_status_restarts_total", "kube_pod_status_phase", "kube_pod_container_resource_requests",
        "kube_job_status_active", "kube_job_status_failed", "kube_job_status_succeeded", "kube_job_failed", "kube_job_owner",
        "kube_job_status_start_time",
        "kube_cronjob_status_last_successful_time", "kube_cronjob_next_schedule_time", "kube_cronjob_created",
        "kube_deployment_status_replicas_available", "kube_namespace_labels",
    }),
    # prometheus/node_exporter collectors cpu and meminfo (enabled by default in prometheus-node-exporter 4.51.1).
    "node-exporter": frozenset({"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"}),
    # Written by Prometheus itself for every scrape target.
    "prometheus": frozenset({"up"}),
    # mlflow/mlflow mlflow/server/prometheus_exporter.py: prometheus_flask_exporter with defaults_prefix="mlflow"
    # (`mlflow server --expose-prometheus`): a request-duration histogram and a request counter.
    "mlflow": frozenset({"mlflow_http_request_duration_seconds_bucket", "mlflow_http_request_duration_seconds_count",
                         "mlflow_http_request_total"}),
    # feast-dev/feast sdk/python/feast/metrics.py (`feast serve --metrics`; the latency histogram and freshness gauge
    # exist from Feast 0.61).
    "feast": frozenset({"feast_feature_server_request_latency_seconds_bucket", "feast_feature_server_request_total",
                        "feast_feature_freshness_seconds", "feast_materialization_result_total"}),
    # Our own contract (README, "Drift metrics"): batch jobs push these to the Pushgateway, serving jobs expose them
    # on /metrics.
    "mlops-jobs": frozenset({"mlops_feature_drift_score", "mlops_prediction_drift_score"}),
}


def dcgm_counters_csv() -> str:
    """The exporter's counters file, in the format of etc/default-counters.csv."""
    lines = ["# DCGM FIELD, Prometheus metric type, help message"]
    lines += [f"{name}, {kind}, {help_}" for name, kind, help_ in DCGM_COUNTERS]
    return "\n".join(lines) + "\n"


def exporter_of(metric: str) -> Exporter | None:
    """The exporter that emits `metric`, or None if no listed exporter does."""
    for exporter, names in METRICS.items():
        if metric in names:
            return exporter
    return None
