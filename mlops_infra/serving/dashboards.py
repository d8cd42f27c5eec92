"""A Grafana dashboard per served model: request rate, p50/p99 latency, error rate, GPU utilisation. Pure."""

from __future__ import annotations

from typing import Any

from ..observability.dashboards import Dashboard, Panel, render
from ..observability.exporter_metrics import DCGM_WORKLOAD_LABELS
from .config import Flavour
from .rules import ISVC_LABEL, RUNTIME_METRICS, error_ratio


def _quantile(q: float, model: str, flavour: Flavour) -> str:
    m = RUNTIME_METRICS[flavour]
    sel = ", ".join([f'{ISVC_LABEL}="{model}"', *([m.latency_filter] if m.latency_filter else [])])
    scale = "" if m.latency_scale == 1.0 else f" * {m.latency_scale:g}"
    return f"histogram_quantile({q}, sum by (le) (rate({m.latency_bucket}{{{sel}}}[5m]))){scale}"


def model_dashboard(model: str, flavour: Flavour, namespace: str) -> dict[str, Any]:
    m = RUNTIME_METRICS[flavour]
    req_sel = ", ".join([f'{ISVC_LABEL}="{model}"', *([m.request_filter] if m.request_filter else [])])
    pod, ns = DCGM_WORKLOAD_LABELS[0], DCGM_WORKLOAD_LABELS[1]
    board = Dashboard(f"serving-{model}"[:40], f"Serving: {model}", (
        Panel("Request rate", f"sum(rate({m.requests}{{{req_sel}}}[5m]))", (), "reqps"),
        Panel("Latency p50", _quantile(0.5, model, flavour), (), "s"),
        Panel("Latency p99", _quantile(0.99, model, flavour), (), "s"),
        Panel("Error rate", error_ratio(model, flavour, "5m"), (), "percentunit"),
        Panel("GPU utilisation",
              f'avg(DCGM_FI_DEV_GPU_UTIL{{{ns}="{namespace}", {pod}=~"{model}-predictor.*"}})',
              (("DCGM_FI_DEV_GPU_UTIL", "dcgm-exporter"),), "percent"),
    ))
    return render(board)
