"""Observability concern: the monitoring stack, alert routing, CloudWatch alarms, and the pure alert rules,
dashboards and exporter metric catalogue."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .alerting import AlertRouting, AlertRoutingArgs
    from .cloudwatch_alarms import CloudWatchAlarms, CloudWatchAlarmsArgs
    from .config import MonitoringConfig, PrometheusConfig, ReceiversConfig, ThresholdsConfig
    from .core import MonitoringCore, MonitoringCoreArgs
    from .dashboards import Dashboard, Panel
    from .monitoring_rules import AlertRule, CronJobTarget, ScrapeTarget

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "AlertRouting": "alerting", "AlertRoutingArgs": "alerting", "CloudWatchAlarms": "cloudwatch_alarms",
    "CloudWatchAlarmsArgs": "cloudwatch_alarms", "MonitoringConfig": "config", "PrometheusConfig": "config",
    "ReceiversConfig": "config", "ThresholdsConfig": "config", "MonitoringCore": "core",
    "MonitoringCoreArgs": "core", "Dashboard": "dashboards", "Panel": "dashboards", "AlertRule": "monitoring_rules",
    "CronJobTarget": "monitoring_rules", "ScrapeTarget": "monitoring_rules",
}

__all__ = [
    "AlertRouting", "AlertRoutingArgs", "AlertRule", "CloudWatchAlarms", "CloudWatchAlarmsArgs", "CronJobTarget",
    "Dashboard", "MonitoringConfig", "MonitoringCore", "MonitoringCoreArgs", "Panel", "PrometheusConfig",
    "ReceiversConfig", "ScrapeTarget", "ThresholdsConfig",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
