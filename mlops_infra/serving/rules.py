"""Serving alert rules and the drift/fairness metric contract, as plain data (no Pulumi).

Every expression reads only series the runtime really emits (`RUNTIME_METRICS`; the integration tier scrapes a
real MLServer and checks the MLServer names and labels) or series of the documented push contract
(`CONTRACT_METRICS`, pushed to the Pushgateway by a monitoring job). The PodMonitor adds the label `isvc` (the
InferenceService, i.e. the served model's name) to every scraped series, so one set of rules covers each runtime.

Drift and fairness contract (a monitoring job pushes these gauges, job label `mlops-model-monitor`):
- `mlops_feature_drift_score{model, feature}`: data drift per input feature, 0 (same distribution) to 1 (the
  platform's existing drift metric; `model` is the served model's name);
- `mlops_prediction_drift_score{model}`: prediction drift, 0 to 1;
- `mlops_fairness_demographic_parity_difference{model, protected_attribute}`: max minus min positive-prediction
  rate across the attribute's groups, 0 (parity) to 1;
- `mlops_fairness_disparate_impact_ratio{model, protected_attribute}`: min over max positive-prediction rate,
  1 (parity) down to 0;
- `mlops_model_monitor_last_run_timestamp_seconds{model}`: when the job last computed them (staleness alert).

Drift itself is alerted once, by the platform's own rules on these metrics (FeatureDrift in the feature store's
group, PredictionDrift in the model registry's); without a feature store, a model with `features` gets its own
ModelFeatureDrift (over its job's values: nothing else exports them then). Serving adds only what is its own,
fairness and the job's health (`absent()` when nothing was ever pushed or a push left a metric out, staleness when it stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..observability.monitoring_rules import DRIFT_METRIC, PREDICTION_DRIFT_METRIC
from .config import Flavour, ServedModelConfig, ServingConfig
from .manifests import CANARY_NAME, kserve_replica_floors

ISVC_LABEL = "isvc"
"""Added by the PodMonitor from the predictor pod's `serving.kserve.io/inferenceservice` label."""
MONITOR_JOB = "mlops-model-monitor"
DPD_METRIC = "mlops_fairness_demographic_parity_difference"
DIR_METRIC = "mlops_fairness_disparate_impact_ratio"
LAST_RUN_METRIC = "mlops_model_monitor_last_run_timestamp_seconds"
CONTRACT_METRICS: dict[str, tuple[str, ...]] = {
    DRIFT_METRIC: ("model", "feature"),
    PREDICTION_DRIFT_METRIC: ("model",),
    DPD_METRIC: ("model", "protected_attribute"),
    DIR_METRIC: ("model", "protected_attribute"),
    LAST_RUN_METRIC: ("model",),
}
"""The push contract: metric -> labels (besides `job`)."""
MONITOR_STALE_SECONDS = 2 * 86400
TF_SERVER_ERRORS = ("INTERNAL", "UNKNOWN", "UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "DATA_LOSS",
                    "ABORTED", "UNIMPLEMENTED")
"""TF Serving status codes that are the server's failures (5xx over REST), not the caller's."""


@dataclass(frozen=True)
class RuntimeMetrics:
    """How to read one runtime's request count, errors and latency. `latency_scale` turns its latency unit into
    seconds."""

    requests: str
    request_filter: str
    error_filter: str
    latency_bucket: str
    latency_filter: str
    latency_scale: float

    @property
    def names(self) -> tuple[str, ...]:
        return (self.requests, self.latency_bucket)


RUNTIME_METRICS: dict[Flavour, RuntimeMetrics] = {
    # MLServer 1.7.1 mlserver/rest/app.py: starlette_exporter's PrometheusMiddleware with prefix `rest_server`
    # (settings.metrics_rest_server_prefix), group_paths on: path is the route template.
    "mlflow": RuntimeMetrics("rest_server_requests_total", 'path=~"/v2/models/.+/infer"', 'status_code=~"5.."',
                             "rest_server_request_duration_seconds_bucket", 'path=~"/v2/models/.+/infer"', 1.0),
    # TF Serving: /tensorflow/serving/request_count {model_name, status} and request_latency {model_name, API,
    # entrypoint}, a histogram in microseconds, on /monitoring/prometheus/metrics. `status` is the absl code name
    # (servables/tensorflow/util.cc RecordModelRequestCount: error::Code_Name(status.code())); only server-side codes
    # spend the error budget (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION... are the caller's 4xx).
    "tensorflow": RuntimeMetrics(":tensorflow:serving:request_count", "", f'status=~"{"|".join(TF_SERVER_ERRORS)}"',
                                 ":tensorflow:serving:request_latency_bucket", "", 1e-6),
}


def _sel(model: str, *filters: str) -> str:
    return "{" + ", ".join([f'{ISVC_LABEL}="{model}"', *[f for f in filters if f]]) + "}"


def _alert(name: str, expr: str, for_: str, severity: str, summary: str, model: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": for_, "labels": {"severity": severity, "model": model},
            "annotations": {"summary": summary, "runbook": "README: Serving"}}


def error_ratio(model: str, flavour: Flavour, window: str) -> str:
    m = RUNTIME_METRICS[flavour]
    return (f"sum(rate({m.requests}{_sel(model, m.request_filter, m.error_filter)}[{window}])) / "
            f"sum(rate({m.requests}{_sel(model, m.request_filter)}[{window}]))")


def p99_seconds(model: str, flavour: Flavour, window: str) -> str:
    m = RUNTIME_METRICS[flavour]
    scale = "" if m.latency_scale == 1.0 else f" * {m.latency_scale:g}"
    return (f"histogram_quantile(0.99, sum by (le) (rate({m.latency_bucket}{_sel(model, m.latency_filter)}"
            f"[{window}]))){scale}")


def model_rules(m: ServedModelConfig, cfg: ServingConfig, namespace: str) -> list[dict[str, Any]]:
    """Latency SLO burn, error-budget burn, no traffic and replica shortfall for one served model."""
    model, flavour = m.name, m.flavour
    rt = RUNTIME_METRICS[flavour]
    burn = 14.4 * cfg.error_budget  # the budget of 30 days spent in 2 days (Google SRE workbook, multiwindow)
    slo = cfg.latency_slo_seconds
    stable, canary = kserve_replica_floors(m)
    deployments = f"{model}-predictor" + (f"|{model}-{CANARY_NAME}-predictor" if m.canary else "")
    return [
        _alert("ModelLatencySloBurn",
               f"({p99_seconds(model, flavour, '1h')} > {slo:g}) and ({p99_seconds(model, flavour, '5m')} > {slo:g})",
               "5m", "critical", f"p99 latency of {model} above {slo:g}s over 1h and 5m", model),
        _alert("ModelErrorBudgetBurn",
               f"({error_ratio(model, flavour, '1h')} > {burn:g}) and ({error_ratio(model, flavour, '5m')} > {burn:g})",
               "2m", "critical", f"{model} burns its error budget 14.4x too fast (server errors)", model),
        _alert("ModelNoTraffic", f"sum(rate({rt.requests}{_sel(model, rt.request_filter)}[30m])) == 0", "30m",
               "warning", f"{model} served no request in 30 minutes", model),
        # The floor KServe keeps: the stable HPA's (lowered by the canary's share) plus the canary's replicas.
        _alert("ModelReplicaShortfall",
               f'sum(kube_deployment_status_replicas_available{{namespace="{namespace}", '
               f'deployment=~"{deployments}"}}) < {stable + canary}',
               "10m", "critical", f"{model} runs fewer than its {stable + canary} minimum replicas", model),
    ]


def contract_rules(m: ServedModelConfig, cfg: ServingConfig,
                   feature_drift: float | None = None) -> list[dict[str, Any]]:
    """Fairness alerts of one served model, and the monitoring job's health, from the push contract. A model
    without protected attributes is expected to push no fairness values, one without `features` no feature drift.
    `feature_drift`: the threshold of the model's own ModelFeatureDrift alert, for when the platform has no feature
    store (whose group holds the one FeatureDrift rule); only a model with `features` gets it, the only models whose
    job exports the metric. Default: none (the feature store's rule alerts)."""
    model, t = m.name, cfg.fairness_threshold
    sel = f'{{job="{MONITOR_JOB}", model="{model}"}}'
    drift = [_alert("ModelFeatureDrift", f"max by (model, feature) ({DRIFT_METRIC}{sel}) > {feature_drift:g}", "15m",
                    "warning", f"Feature {{{{ $labels.feature }}}} of model {model} drifted (score {{{{ $value }}}})",
                    model)] if feature_drift is not None and m.features else []
    expected = [k for k in CONTRACT_METRICS if (m.protected_attributes or k not in (DPD_METRIC, DIR_METRIC))
                and (m.features or k != DRIFT_METRIC)]
    missing = " or ".join(f"absent({metric}{sel})" for metric in expected)
    return [
        _alert("ModelDemographicParity", f"max by (model, protected_attribute) ({DPD_METRIC}{sel}) > {t:g}", "15m",
               "warning", f"{model}: demographic parity difference above {t:g}", model),
        _alert("ModelDisparateImpact", f"min by (model, protected_attribute) ({DIR_METRIC}{sel}) < {1 - t:g}", "15m",
               "warning", f"{model}: disparate impact ratio below {1 - t:g}", model),
        _alert("ModelMonitorStale", f"time() - max by (model) ({LAST_RUN_METRIC}{sel}) > {MONITOR_STALE_SECONDS}",
               "30m", "warning", f"the drift/fairness job of {model} has not reported for 2 days", model),
        _alert("ModelMonitorMissing", missing, "30m", "warning",
               f"no drift or fairness values for {model} (never pushed, or the last push left some out)", model),
        *drift,
    ]


def rule_groups(cfg: ServingConfig, namespace: str, feature_drift: float | None = None) -> list[dict[str, Any]]:
    """One group per served model (a Prometheus rule file's `groups`); `feature_drift`: see `contract_rules`."""
    return [{"name": f"serving-{m.name}",
             "rules": [*model_rules(m, cfg, namespace), *contract_rules(m, cfg, feature_drift)]}
            for m in cfg.models]
