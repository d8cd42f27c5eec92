"""Alert rules, dashboards, exporter metric lists, Alertmanager routing and monitoring config: pure, no Pulumi.

Each concern builds its own rules and dashboards (compute/, registry/ and features/observability.py); the checks
run over all of them, as a platform with every service would render them."""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

import promql_parser
import pytest

from mlops_infra.compute.observability import cluster_rules, gpu_dashboard, gpu_rules, training_jobs_dashboard
from mlops_infra.config import ConfigError
from mlops_infra.features.observability import feature_rules, feature_store_dashboard
from mlops_infra.observability.alerting import alertmanager_config
from mlops_infra.observability.config import ThresholdsConfig
from mlops_infra.observability.dashboards import Dashboard, render
from mlops_infra.observability.exporter_metrics import DCGM_COUNTERS, METRICS, dcgm_counters_csv, exporter_of
from mlops_infra.observability.monitoring_rules import CronJobTarget, RuleGroup, ScrapeTarget, prometheus_rule_spec
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.registry.observability import registry_dashboard, registry_rules
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS
from tests.nonempty import each

NAMESPACES = ["research", "mlflow", "feast"]
MLFLOW = ScrapeTarget("mlflow", "mlflow")
SERVER = ScrapeTarget("feast", "feast-feature-server")
CRON = CronJobTarget("feast", "feast-materialize")


def rule_groups(t: ThresholdsConfig) -> list[RuleGroup]:
    """Every concern's groups, every service present."""
    return [gpu_rules(t), cluster_rules(), registry_rules(t, MLFLOW), feature_rules(t, CRON, SERVER)]


def dashboards() -> list[Dashboard]:
    return [gpu_dashboard(), training_jobs_dashboard(NAMESPACES), registry_dashboard(MLFLOW),
            feature_store_dashboard(CRON, SERVER)]


RULES = [r for g in rule_groups(ThresholdsConfig()) for r in g.rules]
PANELS = [p for d in dashboards() for p in d.panels]

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
        "NodeNotReady",
        "MlflowDown", "MlflowHighLatency", "PredictionDrift",
        "FeatureServerDown", "FeatureServerHighLatency",
        "FeatureMaterializationFailed", "FeatureMaterializationLate", "FeatureDrift",
    ]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_alert_parses_and_reads_only_emitted_metrics(rule: Any) -> None:
    declared = {metric for metric, _ in rule.metrics}
    assert series_read(rule.expr) == declared
    for metric, exporter in each(rule.metrics):
        assert metric in METRICS[exporter], f"{exporter} does not emit {metric}"
    assert re.fullmatch(r"\d+[smh]", rule.for_)  # a Prometheus duration (`for` may be 0m)
    assert rule.severity in {"critical", "warning", "info"} and rule.summary


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.title)
def test_every_dashboard_query_parses_and_reads_only_emitted_metrics(panel: Any) -> None:
    assert series_read(panel.expr) == {metric for metric, _ in panel.metrics}
    for metric, exporter in each(panel.metrics):
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
    rules = {r.name: r for g in rule_groups(t) for r in g.rules}
    assert rules["GpuIdle"].expr.endswith("< 12") and rules["GpuIdle"].for_ == "40m"
    assert rules["GpuIdle"].expr.startswith(
        'avg by (Hostname, gpu, exported_namespace, exported_pod) (DCGM_FI_DEV_GPU_UTIL{exported_pod!=""})')
    assert rules["GpuMemoryNearFull"].expr == "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > 90"
    assert rules["MlflowHighLatency"].expr.endswith("> 0.25")
    assert rules["FeatureDrift"].expr == "max by (model, feature) (mlops_feature_drift_score) > 0.4"
    assert rules["FeatureMaterializationLate"].expr == (
        'time() - kube_cronjob_status_last_successful_time{namespace="feast",cronjob="feast-materialize"} > 1800')


def test_services_a_concern_lacks_get_no_rules() -> None:
    t = ThresholdsConfig()
    assert [r.name for r in registry_rules(t, None).rules] == ["PredictionDrift"]  # SageMaker: no server
    assert [r.name for r in feature_rules(t).rules] == ["FeatureDrift"]  # SageMaker: no server, no CronJob
    assert [p.title for p in feature_store_dashboard().panels] == ["Feature drift"]


def test_each_concern_reads_only_its_own_exporters() -> None:
    """The registry's rules read MLflow's metrics (and the jobs' drift), the feature store's Feast's and
    kube-state-metrics' CronJob series, the cluster's the node and GPU exporters': no concern leans on another."""
    t = ThresholdsConfig()
    def exporters(group: RuleGroup) -> set[str]:
        return {exporter for rule in group.rules for _, exporter in rule.metrics}
    assert exporters(registry_rules(t, MLFLOW)) == {"prometheus", "mlflow", "mlops-jobs"}
    assert exporters(feature_rules(t, CRON, SERVER)) == {"prometheus", "feast", "kube-state-metrics", "mlops-jobs"}
    assert exporters(gpu_rules(t)) == {"dcgm-exporter"}
    assert exporters(cluster_rules()) == {"kube-state-metrics"}


def test_targets_must_be_kubernetes_names() -> None:
    with pytest.raises(ValueError, match=r'^not Kubernetes names: ml"\)\|\.\*$'):
        training_jobs_dashboard(['ml")|.*'])
    with pytest.raises(ValueError, match=r"^not Kubernetes names: Feast$"):
        ScrapeTarget("Feast", "server")


def test_prometheus_rule_spec_is_the_crd_shape() -> None:
    group = rule_groups(ThresholdsConfig())[0]
    spec = prometheus_rule_spec(group)
    assert spec["groups"][0]["name"] == "mlops-gpu"
    xid = spec["groups"][0]["rules"][2]
    assert xid == {"alert": "GpuXidError",
                   "expr": "DCGM_FI_DEV_XID_ERRORS > 0 and changes(DCGM_FI_DEV_XID_ERRORS[10m]) > 0", "for": "0m",
                   "labels": {"severity": "critical"},
                   "annotations": {"summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID {{ $value }}",
                                   "description": "An XID is a driver-reported GPU fault; drain the node and check the "
                                                  "XID catalog."}}


def test_dashboards_render_to_grafana_json() -> None:
    boards = {d.uid: render(d) for d in dashboards()}
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
    ({"receivers": {"httpsEndpoints": ["http://alerts.example.com/sns"]}},
     ["monitoring.receivers.httpsEndpoints[0]: invalid value 'http://alerts.example.com/sns' "
      "(must match ^https://[^\\s/?#]+(/\\S*)?$)"]),
    # The Container Insights log groups moved to the cluster that installs the agent: the key is gone.
    ({"logRetentionDays": 30}, ["monitoring.logRetentionDays: unknown key (check the spelling)"]),
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


# --- Prod alerts reach someone (issue 14 #9) -----------------------------------------------------------------------

PROD: dict[str, Any] = {"environment": "prod", "tags": {"owner": "ml", "costCenter": "cc-1"}, "cluster": PROD_API_ACCESS,
                        "securityBaseline": PROD_GUARDS}
NO_SUBSCRIBER = ("monitoring.receivers: the alert topic needs at least one subscriber (emailAddresses or "
                 "httpsEndpoints): CloudWatch alarms and security findings reach no one otherwise, and Slack/PagerDuty "
                 "receive only Alertmanager (requireSubscription is on: the prod profile sets it)")


@pytest.mark.parametrize("receivers", [
    None,  # the profile default
    {"emailAddresses": []},
    # Slack and PagerDuty hear Alertmanager only: CloudWatch alarms go to the SNS topic and nowhere else.
    {"slackWebhookSecret": "slackWebhook", "slackChannel": "#ml", "pagerdutyKeySecret": "pagerdutyKey"},
])
def test_a_prod_config_whose_alert_topic_has_no_subscriber_is_refused_at_its_path(receivers: Any) -> None:
    raw = copy.deepcopy(PROD) | ({"monitoring": {"receivers": receivers}} if receivers is not None else {})
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    assert info.value.problems == [NO_SUBSCRIBER]


@pytest.mark.parametrize("receivers", [{"emailAddresses": ["oncall@example.com"]},
                                       {"httpsEndpoints": ["https://alerts.example.com/sns"]}])
def test_one_email_or_https_subscriber_satisfies_prod(receivers: dict[str, Any]) -> None:
    config = load_platform_config(copy.deepcopy(PROD) | {"monitoring": {"receivers": receivers}})
    assert config.monitoring.receivers.require_subscription is True  # from the profile, not from the stack


def test_dev_and_staging_may_run_without_subscribers_and_prod_may_opt_out_explicitly() -> None:
    for env in ("dev", "staging"):
        raw = copy.deepcopy(BASE) | {"environment": env}
        assert load_platform_config(raw).monitoring.receivers.require_subscription is False
    opt_out = copy.deepcopy(PROD) | {"monitoring": {"receivers": {"requireSubscription": False}}}
    assert load_platform_config(opt_out).monitoring.receivers.email_addresses == []


# --- A tiny PromQL evaluator: instant queries over in-memory series, enough for the GPU rules ---------------------

Labels = frozenset[tuple[str, str]]
Samples = list[tuple[float, float]]
LOOKBACK = 300.0  # Prometheus' default lookback delta (5m) for instant vector selectors
COMPARE = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__, "==": float.__eq__,
           "!=": float.__ne__}


def _selected(node: Any, db: dict[Labels, Samples]) -> dict[Labels, Samples]:
    wanted = [(m.name, str(m.op), m.value) for m in node.matchers.matchers]
    out: dict[Labels, Samples] = {}
    for labels, samples in db.items():
        have = dict(labels)
        if have.get("__name__") != node.name:
            continue
        if all((have.get(n, "") == v) == (op == "MatchOp.Equal") for n, op, v in wanted):
            out[labels] = samples
    return out


def _without_name(labels: Labels) -> Labels:
    return frozenset(kv for kv in labels if kv[0] != "__name__")


def evaluate(node: Any, db: dict[Labels, Samples], t: float) -> dict[Labels, float] | float:
    """The value of `node` at time `t` (seconds): an instant vector or a scalar. Raises on what it cannot do."""
    if isinstance(node, promql_parser.NumberLiteral):
        return float(node.val)
    if isinstance(node, promql_parser.ParenExpr):
        return evaluate(node.expr, db, t)
    if isinstance(node, promql_parser.VectorSelector):
        return {labels: [v for ts, v in samples if t - LOOKBACK < ts <= t][-1]
                for labels, samples in _selected(node, db).items() if any(t - LOOKBACK < ts <= t for ts, _ in samples)}
    if isinstance(node, promql_parser.Call) and node.func.name in {"changes", "max_over_time", "min_over_time"}:
        [matrix] = node.args
        window = matrix.range.total_seconds()
        out: dict[Labels, float] = {}
        for labels, samples in _selected(matrix.vector_selector, db).items():
            values = [v for ts, v in samples if t - window < ts <= t]
            if values:
                out[_without_name(labels)] = {
                    "changes": float(sum(a != b for a, b in itertools.pairwise(values))),
                    "max_over_time": max(values), "min_over_time": min(values)}[node.func.name]
        return out
    if isinstance(node, promql_parser.BinaryExpr):
        lhs, rhs, op = evaluate(node.lhs, db, t), evaluate(node.rhs, db, t), str(node.op)
        if op == "and" and isinstance(lhs, dict) and isinstance(rhs, dict):
            keep = {_without_name(labels) for labels in rhs}
            return {labels: v for labels, v in lhs.items() if _without_name(labels) in keep}
        if op in COMPARE and isinstance(lhs, dict) and isinstance(rhs, float) and node.modifier is None:
            return {labels: v for labels, v in lhs.items() if COMPARE[op](v, rhs)}
    raise NotImplementedError(f"the test evaluator does not handle {node.prettify()}")


def firing(expr: str, db: dict[Labels, Samples], t: float) -> dict[Labels, float]:
    result = evaluate(promql_parser.parse(expr), db, t)
    assert isinstance(result, dict)
    return result


XID = "DCGM_FI_DEV_XID_ERRORS"
XID_EVENT_AT, HOUR = 600.0, 3600.0


def xid_history() -> dict[Labels, Samples]:
    """One GPU scraped every 15s: no XID for 10 minutes, then XID 79 (fell off the bus), and the gauge holds 79 for
    an hour after that one event, as DCGM_FI_DEV_XID_ERRORS ("value of the last XID") does."""
    labels: Labels = frozenset({("__name__", XID), ("gpu", "0"), ("Hostname", "gpu-node-1")})
    samples = [(float(ts), 0.0 if ts < XID_EVENT_AT else 79.0)
               for ts in range(0, int(XID_EVENT_AT + HOUR) + 1, 15)]
    return {labels: samples}


XID_RULES = [r for r in RULES if XID in {metric for metric, _ in r.metrics}]


def test_some_rule_reads_the_xid_gauge() -> None:
    assert [r.name for r in XID_RULES] == ["GpuXidError"]


@pytest.mark.parametrize("rule", XID_RULES, ids=lambda r: r.name)
def test_xid_alerts_fire_on_a_new_xid_and_stop_while_the_gauge_holds_it_for_an_hour(rule: Any) -> None:
    db = xid_history()
    assert firing(rule.expr, db, XID_EVENT_AT - 15) == {}
    fired = firing(rule.expr, db, XID_EVENT_AT + 60)
    assert list(fired.values()) == [79.0]  # the summary's {{ $value }} is the XID
    assert {("gpu", "0"), ("Hostname", "gpu-node-1")} <= next(iter(fired))  # who to page about
    assert firing(rule.expr, db, XID_EVENT_AT + HOUR) == {}


def test_the_evaluator_sees_the_old_xid_rule_fire_forever() -> None:
    """The expression before issue 14 #13: the same check must fail on it."""
    assert list(firing(f"{XID} > 0", xid_history(), XID_EVENT_AT + HOUR).values()) == [79.0]
    with pytest.raises(NotImplementedError):
        firing(f"rate({XID}[5m]) > 0", xid_history(), XID_EVENT_AT)
