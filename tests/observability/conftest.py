"""The monitoring test program (tests/programs/monitoring) planned full and minimal, and the lookups the
observability tests share."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import PROGRAMS, planned

PROGRAM = PROGRAMS / "monitoring"
UPSTREAM = PROGRAM / "upstream"  # chart files read at the pinned versions (each says where it came from)
RELEASE = "kubernetes:helm.sh/v3:Release"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def full() -> Inventory:
    return planned("full", PROGRAM)


@pytest.fixture(scope="module")
def minimal() -> Inventory:
    return planned("minimal", PROGRAM)


def release(inv: Inventory, chart: str) -> ResourceRecord:
    [found] = [r for r in inv.of_type(RELEASE) if r.inputs["chart"] == chart]
    return found


def helm_merge(defaults: Any, overrides: Any) -> Any:
    """What Helm renders from a chart's values.yaml and the release's values (helm chartutil coalesce): maps merge key
    by key, lists and scalars replace, a null override deletes the key."""
    if not (isinstance(defaults, dict) and isinstance(overrides, dict)):
        return overrides
    out = dict(defaults)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = helm_merge(defaults.get(key), value)
    return out


def lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node
