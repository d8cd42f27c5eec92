"""Grafana dashboards as plain data: the shared types and the renderer.

Pure (no Pulumi). Each concern builds its own dashboards (compute/observability.py: GPU cluster and training
jobs; registry/observability.py: model registry; features/observability.py: feature store). Every panel names its
metrics like the alert rules do, so the tests hold dashboards to the same bar: each query parses and reads only
metrics an exporter emits. Grafana's sidecar loads the rendered JSON from
ConfigMaps labelled `grafana_dashboard: "1"` (kube-prometheus-stack values `grafana.sidecar.dashboards`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .exporter_metrics import Exporter

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
