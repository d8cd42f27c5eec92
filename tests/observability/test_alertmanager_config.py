"""The Alertmanager config our Secret carries replaces the chart's whole (`useExistingSecret`): it keeps the chart's
inhibit rules, and the always-firing Watchdog reaches a dead-man's switch when one is configured (issue #27)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from mlops_infra import charts
from mlops_infra.observability.alerting import HEARTBEAT_REPEAT, alertmanager_config
from mlops_infra.observability.config import MonitoringConfig
from mlops_infra.observability.core import PROMETHEUS_COMMUNITY
from mlops_infra.plan.render import render_chart

NEEDS_CHART = pytest.mark.charts("kube-prometheus-stack")

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
HEARTBEAT = "https://hc-ping.com/00000000-0000-0000-0000-000000000000"


def _chart_config() -> dict[str, Any]:
    """The Alertmanager config kube-prometheus-stack renders at our pin, with its default values."""
    version = MonitoringConfig().prometheus.chart_version
    stored = charts.find("kube-prometheus-stack", PROMETHEUS_COMMUNITY, version)
    assert stored is not None, f"kube-prometheus-stack {version} not in the chart store (README: Rendering)"
    secrets = [o for o in render_chart(stored, {}, "kps", "monitoring", skip_crds=True)
               if o.get("kind") == "Secret" and "alertmanager.yaml" in (o.get("data") or {})]
    assert len(secrets) == 1, "the chart renders one Alertmanager config Secret"
    config: dict[str, Any] = yaml.safe_load(base64.b64decode(secrets[0]["data"]["alertmanager.yaml"]))
    return config


def _normalized(rule: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    def matchers(key: str) -> tuple[str, ...]:
        return tuple(sorted(m.replace(" ", "") for m in rule.get(key, [])))
    return matchers("source_matchers"), matchers("target_matchers"), tuple(sorted(rule.get("equal", [])))


@NEEDS_CHART
def test_every_inhibit_rule_of_the_chart_at_the_pin_is_kept() -> None:
    chart_rules = _chart_config()["inhibit_rules"]
    assert chart_rules, "the chart renders inhibit rules"
    ours = {_normalized(r) for r in alertmanager_config(TOPIC, "us-east-1", None, None, None)["inhibit_rules"]}
    missing = [r for r in chart_rules if _normalized(r) not in ours]
    assert missing == []


@NEEDS_CHART
def test_watchdog_and_info_inhibitor_never_reach_a_person() -> None:
    """The chart routes Watchdog to `null`; so do we without a heartbeat, and InfoInhibitor always."""
    chart_null = [r for r in _chart_config()["route"]["routes"] if r["receiver"] == "null"]
    assert chart_null, "the chart sends Watchdog to null"
    routes = alertmanager_config(TOPIC, "us-east-1", None, None, None)["route"]["routes"]
    assert routes[0] == {"receiver": "null", "matchers": ['alertname=~"Watchdog|InfoInhibitor"']}


def test_watchdog_reaches_the_heartbeat_first_and_often() -> None:
    config = alertmanager_config(TOPIC, "us-east-1", None, None, None, HEARTBEAT)
    first, second = config["route"]["routes"][:2]
    assert first["receiver"] == "heartbeat" and first["matchers"] == ['alertname="Watchdog"']
    assert "continue" not in first, "Watchdog stops at the heartbeat: it never reaches Slack, PagerDuty or SNS"
    assert first["repeat_interval"] == HEARTBEAT_REPEAT and first["group_wait"] == "0s"
    assert second["receiver"] == "null"  # InfoInhibitor
    (receiver,) = [r for r in config["receivers"] if r["name"] == "heartbeat"]
    assert receiver["webhook_configs"] == [{"url": HEARTBEAT, "send_resolved": False}]
