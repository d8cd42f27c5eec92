"""Alert rules, dashboards, exporter metric lists, Alertmanager routing and monitoring config: pure, no Pulumi."""

from __future__ import annotations

import copy
import re
from typing import Any

import promql_parser
import pytest

from mlops_infra.components.alerting import alertmanager_config
from mlops_infra.config import ConfigError, load_platform_config
from mlops_infra.config.monitoring import ThresholdsConfig
from mlops_infra.dashboards import dashboards, render
from mlops_infra.exporter_metrics import DCGM_COUNTERS, METRICS, dcgm_counters_csv, exporter_of
from mlops_infra.monitoring_rules import (
    CronJobTarget,
    MonitoredTargets,
    ScrapeTarget,
    prometheus_rule_spec,
    rule_groups,
)

TARGETS = MonitoredTargets(
    ml_namespaces=["research", "mlflow", "feast"],
    model_registry=ScrapeTarget("mlflow", "mlflow"),
    feature_server=ScrapeTarget("feast", "feast-feature-server"),
    materialization=CronJobTarget("feast", "feast-materialize"),
)
RULES = [r for g in rule_groups(ThresholdsConfig(), TARGETS) for r in g.rules]
PANELS = [p for d in dashboards(TARGETS) for p in d.panels]

# The counters active in the upstream default list (NVIDIA/dcgm-exporter deployment/templates/metrics-configmap.yaml,
# tag 4.5.1-4.8.0), copied here as an independent source for the subset check.
UPSTREAM_DCGM_DEFAULT = {
    "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
    "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL",
    "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE", "DCGM_FI_DRIVER_VERSION", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE", "DCGM_FI_PROF_PCIE_TX_BYTES",
    "DCGM_FI_PROF_PCIE_RX_BYTES",
}


def series_read(expr: str) -> set[str]:
    """Every metric name a PromQL expression selects (parsed, not grepped)."""
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def test_the_issue_alerts_all_exist() -> None:
    assert [r.name for r in RULES] == [
        "GpuIdle", "GpuMemoryNearFull", "GpuXidError",
        "NodeNotReady", "MlPodCrashLooping",
        "MlflowDown", "MlflowHighLatency", "FeatureServerDown", "FeatureServerHighLatency",
        "FeatureMaterializationFailed", "FeatureMaterializationLate", "FeatureDrift", "PredictionDrift",
    ]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_alert_parses_and_reads_only_emitted_metrics(rule: Any) -> None:
    declared = {metric for metric, _ in rule.metrics}
    assert series_read(rule.expr) == declared
    for metric, exporter in rule.metrics:
        assert metric in METRICS[exporter], f"{exporter} does not emit {metric}"
    assert re.fullmatch(r"\d+[smh]", rule.for_)  # a Prometheus duration (`for` may be 0m)
    assert rule.severity in {"critical", "warning", "info"} and rule.summary


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.title)
def test_every_dashboard_query_parses_and_reads_only_emitted_metrics(panel: Any) -> None:
    assert series_read(panel.expr) == {metric for metric, _ in panel.metrics}
    for metric, exporter in panel.metrics:
        assert metric in METRICS[exporter], f"{exporter} does not emit {metric}"


def test_the_parser_check_can_fail() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse("avg by (gpu) (DCGM_FI_DEV_GPU_UTIL < 5")
    assert exporter_of("DCGM_FI_DEV_GPU_UTILIZATION") is None  # a plausible typo is not an emitted metric
    assert exporter_of("DCGM_FI_DEV_GPU_UTIL") == "dcgm-exporter"


def test_gpu_metrics_the_rules_rely_on_are_dcgm_default_counters() -> None:
    configured = {name for name, _, _ in DCGM_COUNTERS}
    assert configured <= UPSTREAM_DCGM_DEFAULT
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_XID_ERRORS"} <= \
        METRICS["dcgm-exporter"]
    assert not any(name.startswith("DCGM_FI_PROF_") for name in configured)  # no SYS_ADMIN needed


def test_dcgm_counters_csv_has_the_upstream_format() -> None:
    lines = dcgm_counters_csv().splitlines()
    assert lines[0].startswith("#")
    rows = [[part.strip() for part in line.split(",", 2)] for line in lines[1:]]
    assert [r[0] for r in rows] == [name for name, _, _ in DCGM_COUNTERS]
    assert {r[1] for r in rows} <= {"gauge", "counter", "label"}


def test_thresholds_from_config_reach_the_expressions() -> None:
    t = ThresholdsConfig(gpu_idle_percent=12, gpu_idle_minutes=40, gpu_memory_percent=90, p95_latency_seconds=0.25,
                         drift_score=0.4, materialization_late_minutes=30)
    rules = {r.name: r for g in rule_groups(t, TARGETS) for r in g.rules}
    assert rules["GpuIdle"].expr.endswith("< 12") and rules["GpuIdle"].for_ == "40m"
    assert rules["GpuIdle"].expr.startswith(
        'avg by (Hostname, gpu, exported_namespace, exported_pod) (DCGM_FI_DEV_GPU_UTIL{exported_pod!=""})')
    assert rules["GpuMemoryNearFull"].expr == "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > 90"
    assert rules["MlflowHighLatency"].expr.endswith("> 0.25")
    assert rules["FeatureDrift"].expr == "max by (model, feature) (mlops_feature_drift_score) > 0.4"
    assert rules["FeatureMaterializationLate"].expr == (
        'time() - kube_cronjob_status_last_successful_time{namespace="feast",cronjob="feast-materialize"} > 1800')
    assert rules["MlPodCrashLooping"].expr == (
        'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff",'
        'namespace=~"feast|mlflow|research"}[5m]) >= 1')


def test_services_the_platform_lacks_get_no_rules() -> None:
    names = [r.name for g in rule_groups(ThresholdsConfig(), MonitoredTargets()) for r in g.rules]
    assert names == ["GpuIdle", "GpuMemoryNearFull", "GpuXidError", "NodeNotReady", "FeatureDrift", "PredictionDrift"]
    assert [d.uid for d in dashboards(MonitoredTargets())] == ["mlops-gpu-cluster", "mlops-training-jobs"]


def test_targets_must_be_kubernetes_names() -> None:
    with pytest.raises(ValueError, match=r'^not Kubernetes names: ml"\)\|\.\*, Feast$'):
        MonitoredTargets(ml_namespaces=['ml")|.*'], feature_server=ScrapeTarget("Feast", "server"))


def test_prometheus_rule_spec_is_the_crd_shape() -> None:
    group = rule_groups(ThresholdsConfig(), TARGETS)[0]
    spec = prometheus_rule_spec(group)
    assert spec["groups"][0]["name"] == "mlops-gpu"
    xid = spec["groups"][0]["rules"][2]
    assert xid == {"alert": "GpuXidError", "expr": "DCGM_FI_DEV_XID_ERRORS > 0", "for": "0m",
                   "labels": {"severity": "critical"},
                   "annotations": {"summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID {{ $value }}",
                                   "description": "An XID is a driver-reported GPU fault; drain the node and check the "
                                                  "XID catalog."}}


def test_dashboards_render_to_grafana_json() -> None:
    boards = {d.uid: render(d) for d in dashboards(TARGETS)}
    assert sorted(boards) == ["mlops-feature-store", "mlops-gpu-cluster", "mlops-model-registry", "mlops-training-jobs"]
    gpu = boards["mlops-gpu-cluster"]
    assert gpu["title"] == "GPU cluster" and len(gpu["panels"]) == 8
    assert [p["id"] for p in gpu["panels"]] == list(range(1, 9))
    assert gpu["panels"][1]["gridPos"] == {"h": 8, "w": 12, "x": 12, "y": 0}
    assert gpu["panels"][0]["targets"][0]["datasource"] == {"type": "prometheus", "uid": "prometheus"}


def test_alertmanager_routes_every_receiver() -> None:
    cfg = alertmanager_config("arn:aws:sns:us-east-1:123456789012:alerts", "us-east-1", "https://hooks.slack/x",
                              "#ml", "pd-key")
    assert [r["name"] for r in cfg["receivers"]] == ["null", "sns", "pagerduty", "slack"]
    routes = cfg["route"]["routes"]
    assert routes[0] == {"receiver": "null", "matchers": ['alertname=~"Watchdog|InfoInhibitor"']}
    assert routes[1] == {"receiver": "pagerduty", "matchers": ['severity="critical"'], "continue": True}
    assert routes[2]["receiver"] == "slack" and routes[2]["continue"] is True
    assert routes[3] == {"receiver": "sns"}
    assert cfg["receivers"][1]["sns_configs"] == [
        {"topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts", "sigv4": {"region": "us-east-1"}, "send_resolved": True}]
    assert cfg["receivers"][2]["pagerduty_configs"][0]["routing_key"] == "pd-key"
    assert cfg["receivers"][3]["slack_configs"][0]["api_url"] == "https://hooks.slack/x"


def test_alertmanager_without_credentials_routes_to_sns_only() -> None:
    cfg = alertmanager_config("arn:topic", "eu-west-1", None, None, None)
    assert [r["name"] for r in cfg["receivers"]] == ["null", "sns"]
    assert [r["receiver"] for r in cfg["route"]["routes"]] == ["null", "sns"]


BASE: dict[str, Any] = {"environment": "dev", "tags": {"owner": "ml", "costCenter": "cc-1"},
                        "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]}}


def problems(monitoring: dict[str, Any], **kw: Any) -> list[str]:
    raw = copy.deepcopy(BASE)
    raw["monitoring"] = monitoring
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw, **kw)
    return info.value.problems


@pytest.mark.parametrize(("monitoring", "expected"), [
    ({"thresholds": {"gpuIdleMinutes": 2}}, ["monitoring.thresholds.gpuIdleMinutes: must be >= 5 (got 2)"]),
    ({"thresholds": {"rdsCpuPercent": 101}}, ["monitoring.thresholds.rdsCpuPercent: must be <= 100 (got 101)"]),
    ({"thresholds": {"p95LatencySeconds": 0}}, ["monitoring.thresholds.p95LatencySeconds: must be > 0 (got 0)"]),
    ({"thresholds": {"gpuIdlePercent": 96}},
     ["monitoring.thresholds.gpuIdlePercent: must be < gpuMemoryPercent (96 >= 95)"]),
    ({"receivers": {"slackWebhookSecret": "slackWebhook"}},
     ["monitoring.receivers.slackChannel: required when slackWebhookSecret is set"]),
    ({"namespace": "Monitoring"},
     ["monitoring.namespace: invalid value 'Monitoring' (must match ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$)"]),
    ({"logRetentionDays": 10}, ["monitoring.logRetentionDays: must be a CloudWatch Logs retention value, one of "
                                "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, "
                                "2557, 2922, 3288, 3653"]),
])
def test_bad_monitoring_config_is_reported_by_path(monitoring: dict[str, Any], expected: list[str]) -> None:
    assert problems(monitoring) == expected


def test_a_receiver_whose_key_is_not_a_secret_is_rejected() -> None:
    monitoring = {"receivers": {"pagerdutyKeySecret": "pagerdutyKey"}}
    assert problems(monitoring, secret_keys=set()) == [
        "monitoring.receivers.pagerdutyKeySecret: config key 'mlops:pagerdutyKey' is not set as a secret "
        "(pulumi config set --secret pagerdutyKey ...)"]
    raw = copy.deepcopy(BASE) | {"monitoring": monitoring}
    assert load_platform_config(raw, secret_keys={"pagerdutyKey"}).monitoring.receivers.pagerduty_key_secret == "pagerdutyKey"
