"""amtool (Debian `prometheus-alertmanager` 0.25) on the Alertmanager config the platform renders.

The plan keeps the rendered config secret (it carries the Slack URL and the PagerDuty key), so the config is
rendered here by the component's own function (`observability.alerting.alertmanager_config`, what AlertRouting
puts in the Secret) for each receiver type the config supports: SNS (always), Slack, PagerDuty, and all three.
Then amtool checks it and routes sample alerts through it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops_infra.observability.alerting import alertmanager_config

pytestmark = pytest.mark.integration

TOPIC = "arn:aws:sns:us-east-1:123456789012:mlops-prod-monitoring-alerts-topic"
SLACK = ("https://hooks.slack.com/services/T0000/B0000/XXXXXXXX", "#ml-alerts")
PAGERDUTY = "0123456789abcdef0123456789abcdef"
HEARTBEAT = "https://hc-ping.com/00000000-0000-0000-0000-000000000000"
RECEIVER_SETS = [("sns",), ("sns", "slack"), ("sns", "pagerduty"), ("sns", "slack", "pagerduty"), ("sns", "heartbeat"),
                 ("sns", "slack", "pagerduty", "heartbeat")]


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("amtool")
    assert path, "amtool not found: apt-get install prometheus-alertmanager (see .ci/run)"
    return subprocess.run([path, *args], capture_output=True, text=True, check=False)


def _render(receivers: tuple[str, ...], directory: Path) -> Path:
    config = alertmanager_config(
        TOPIC, "us-east-1",
        SLACK[0] if "slack" in receivers else None, SLACK[1] if "slack" in receivers else None,
        PAGERDUTY if "pagerduty" in receivers else None, HEARTBEAT if "heartbeat" in receivers else None)
    path = directory / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _routed(config: Path, *labels: str) -> set[str]:
    result = _amtool("config", "routes", "test", f"--config.file={config}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    return set(result.stdout.strip().split(","))


@pytest.mark.parametrize("receivers", RECEIVER_SETS, ids=["+".join(r) for r in RECEIVER_SETS])
def test_amtool_accepts_the_rendered_config(receivers: tuple[str, ...], tmp_path: Path) -> None:
    config = _render(receivers, tmp_path)
    result = _amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(receivers) + 1} receivers" in result.stdout  # + the `null` receiver for Watchdog


@pytest.mark.parametrize("receivers", RECEIVER_SETS, ids=["+".join(r) for r in RECEIVER_SETS])
def test_alerts_reach_every_configured_receiver(receivers: tuple[str, ...], tmp_path: Path) -> None:
    config = _render(receivers, tmp_path)
    critical = _routed(config, "alertname=GpuXidError", "severity=critical", "namespace=research")
    warning = _routed(config, "alertname=FeatureDrift", "severity=warning")
    people = set(receivers) - {"heartbeat"}
    assert critical == people, "a critical alert reaches every receiver"
    assert warning == people - {"pagerduty"}, "warnings do not page"
    # The dead-man's switch hears Watchdog alone; without one Watchdog goes nowhere, like the chart's own config.
    assert _routed(config, "alertname=Watchdog", "severity=none") == ({"heartbeat"} if "heartbeat" in receivers
                                                                      else {"null"})
    assert _routed(config, "alertname=InfoInhibitor", "severity=none") == {"null"}
