"""Prometheus alert rules as plain data: the shared types and the pieces several concerns reuse.

Pure (no Pulumi). Each concern builds its own groups (compute/observability.py: GPU and cluster; registry/
observability.py: MLflow and prediction drift; features/observability.py: feature server, materialization and
feature drift). Every rule names the metrics it reads and the exporter that emits them, so the tests prove every
expression parses and every metric exists (see `exporter_metrics`). `prometheus_rule_spec` renders groups into the
`spec` of a `monitoring.coreos.com/v1` PrometheusRule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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


def check_names(names: Iterable[str]) -> None:
    """Names go into PromQL strings and regexes unescaped: only RFC 1123 names are safe there."""
    bad = [n for n in names if not _K8S_NAME.match(n)]
    if bad:
        raise ValueError(f"not Kubernetes names: {', '.join(bad)}")


@dataclass(frozen=True)
class ScrapeTarget:
    """A service Prometheus scrapes: its namespace and `job` label (the Service name, unless its ServiceMonitor
    sets `jobLabel`)."""

    namespace: str
    job: str

    def __post_init__(self) -> None:
        check_names([self.namespace, self.job])

    @property
    def selector(self) -> str:
        return f'namespace="{self.namespace}",job="{self.job}"'


@dataclass(frozen=True)
class CronJobTarget:
    namespace: str
    name: str
    healthy_gap_minutes: int = 0
    """The longest a healthy CronJob goes without a success: its schedule's longest gap plus its Jobs' deadline.
    A staleness alert never fires below it. Default: 0 (the configured threshold alone)."""

    def __post_init__(self) -> None:
        check_names([self.namespace, self.name])


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


def service_rules(label: str, target: ScrapeTarget, histogram: str, exporter: Exporter,
                  t: ThresholdsConfig) -> list[AlertRule]:
    """`<label>Down` (no target up) and `<label>HighLatency` (p95 of `histogram` over the threshold)."""
    sel = target.selector
    return [
        AlertRule(f"{label}Down", f"absent(up{{{sel}}} == 1)", "5m", "critical",
                  f"{label}: no {target.namespace}/{target.job} target is up", (("up", "prometheus"),)),
        AlertRule(f"{label}HighLatency",
                  f"histogram_quantile(0.95, sum by (le) (rate({histogram}{{{sel}}}[5m]))) > {t.p95_latency_seconds:g}",
                  "10m", "warning",
                  f"{label} p95 latency is {{{{ $value | humanizeDuration }}}} (threshold {t.p95_latency_seconds:g}s)",
                  ((histogram, exporter),)),
    ]


def rule_dicts(group: RuleGroup) -> list[dict[str, Any]]:
    """The group's rules as a Prometheus rule file has them (camelCase, as the CRD expects)."""
    return [{"alert": r.name, "expr": r.expr, "for": r.for_, "labels": {"severity": r.severity},
             "annotations": {"summary": r.summary, **({"description": r.description} if r.description else {})}}
            for r in group.rules]


def prometheus_rule_spec(*groups: RuleGroup) -> dict[str, Any]:
    """The PrometheusRule `spec` for the groups (empty groups dropped)."""
    return {"groups": [{"name": g.name, "rules": rule_dicts(g)} for g in groups if g.rules]}


def all_rules(groups: Sequence[RuleGroup]) -> list[AlertRule]:
    return [r for g in groups for r in g.rules]
