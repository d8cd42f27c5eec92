"""promtool (Debian `prometheus` 2.42) on every PrometheusRule the plans render.

- `promtool check rules` on each plan's rule groups;
- `promtool test rules` with the synthetic series in rules/<Alert>.yaml: every alert fires when it should,
  stays quiet when it should not, and clears;
- every alert any plan renders has a fixture, so a new alert without a unit test fails here.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .plans import LABELS, plan
from .rendered import alert_names, rule_groups

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parent / "rules"


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: apt-get install prometheus (see .ci/run)"
    return path


def _fixtures() -> dict[str, dict[str, Any]]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(FIXTURES.glob("*.yaml"))}


def _write_rules(label: str, directory: Path) -> Path:
    path = directory / f"{label}.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups(plan(label))}, sort_keys=False))
    return path


@pytest.mark.parametrize("label", LABELS)
def test_promtool_accepts_every_rendered_rule(label: str, tmp_path: Path) -> None:
    groups = rule_groups(plan(label))
    if label == "team-workspace":
        assert groups == [], f"{label} renders no monitoring stack"
        return
    assert groups, f"{label}: no PrometheusRule rendered"
    result = subprocess.run([_promtool(), "check", "rules", str(_write_rules(label, tmp_path))],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rendered_alert_has_a_promtool_fixture() -> None:
    rendered = {name: label for label in LABELS for name in alert_names(plan(label))}
    missing = sorted(set(rendered) - set(_fixtures()))
    assert not missing, f"alerts without a tests/integration/rules/<alert>.yaml fixture: {missing}"
    stale = sorted(set(_fixtures()) - set(rendered))
    assert not stale, f"fixtures for alerts no plan renders: {stale}"


def _phases(fixture: dict[str, Any]) -> set[str]:
    """Which behaviours a fixture checks: quiet (no alert before any firing), fires, clears (none after firing)."""
    seen: set[str] = set()
    for case in fixture["tests"]:
        fired = False
        for check in sorted(case.get("alert_rule_test", []), key=lambda c: _minutes(c["eval_time"])):
            assert check["alertname"] == fixture["alert"], f"{fixture['alert']}: checks {check['alertname']}"
            if check["exp_alerts"]:
                fired = True
                seen.add("fires")
            else:
                seen.add("clears" if fired else "quiet")
    return seen


def _minutes(duration: str) -> float:
    units = {"s": 1 / 60, "m": 1, "h": 60}
    return float(duration[:-1]) * units[duration[-1]]


def _with_static_annotations(tests: list[dict[str, Any]], rule: dict[str, Any]) -> list[dict[str, Any]]:
    """promtool compares annotations exactly. A fixture states the templated ones (summary: they prove the
    template renders); static prose (no `{{`) it leaves out is copied from the rendered rule."""
    static = {k: v for k, v in rule.get("annotations", {}).items() if "{{" not in v}
    tests = copy.deepcopy(tests)
    for case in tests:
        for check in case.get("alert_rule_test", []):
            for alert in check["exp_alerts"]:
                alert["exp_annotations"] = {**static, **alert.get("exp_annotations", {})}
    return tests


@pytest.mark.parametrize("alert", sorted(_fixtures()))
def test_alert_fires_stays_quiet_and_clears(alert: str, tmp_path: Path) -> None:
    fixture = _fixtures()[alert]
    assert fixture["alert"] == alert
    assert _phases(fixture) == {"quiet", "fires", "clears"}, f"{alert}: a fixture must check quiet, fires and clears"
    rules = _write_rules(fixture["plan"], tmp_path)
    (rule,) = [r for g in rule_groups(plan(fixture["plan"])) for r in g["rules"] if r.get("alert") == alert]
    test_file = tmp_path / f"{alert}.test.yaml"
    test_file.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m",
                                         "tests": _with_static_annotations(fixture["tests"], rule)}, sort_keys=False))
    result = subprocess.run([_promtool(), "test", "rules", test_file.name], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{alert} ({fixture['why']}):\n{result.stdout}{result.stderr}"
