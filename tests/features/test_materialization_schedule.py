"""The materialization staleness alert tolerates the schedule's longest healthy gap (issue #27: dev's 6-hour schedule
under a 120-minute threshold fired four hours of every six)."""

from __future__ import annotations

import pytest

from mlops_infra.features.config import cron_max_gap_minutes
from mlops_infra.features.feature_store_materialization import ACTIVE_DEADLINE_SECONDS, STARTING_DEADLINE_SECONDS
from mlops_infra.features.observability import feature_rules
from mlops_infra.observability.config import ThresholdsConfig
from mlops_infra.observability.monitoring_rules import CronJobTarget
from tests.conftest import planned


@pytest.mark.parametrize(("schedule", "gap"), [
    ("0 * * * *", 60), ("0 */6 * * *", 360), ("*/15 * * * *", 15), ("5/20 * * * *", 20),
    ("30 2 * * 1-5", 3 * 1440),  # Friday 02:30 to Monday 02:30
    ("0 0 * * 0", 7 * 1440), ("0 0 * * 7", 7 * 1440),  # 7 is Sunday too
    ("0 0 1 * *", 31 * 1440),  # Dec 1 to Jan 1 (or any 31-day month)
    ("0 0 1 * 1", 7 * 1440),  # day-of-month OR day-of-week when both are restricted
])
def test_longest_gap_of_a_schedule(schedule: str, gap: int) -> None:
    assert cron_max_gap_minutes(schedule) == gap


def _late_threshold_seconds(stack: str) -> int:
    rules = [r for r in planned(stack).of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
             for g in r.inputs["spec"]["groups"] for r in g["rules"] if r.get("alert") == "FeatureMaterializationLate"]
    assert len(rules) == 1, f"{stack}: one FeatureMaterializationLate rule"
    return int(rules[0]["expr"].rsplit(">", 1)[1])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_healthy_run_is_never_late(stack: str) -> None:
    """The rendered threshold covers the configured schedule's longest gap plus the Job's starting and run deadlines."""
    (cron,) = [r for r in planned(stack).of_type("kubernetes:batch/v1:CronJob") if "materialize" in r.name]
    schedule = cron.inputs["spec"]["schedule"]
    healthy = cron_max_gap_minutes(schedule) * 60 + STARTING_DEADLINE_SECONDS + ACTIVE_DEADLINE_SECONDS
    assert _late_threshold_seconds(stack) >= healthy, f"{stack}: {schedule}"
    assert _late_threshold_seconds(stack) >= ThresholdsConfig().materialization_late_minutes * 60


def test_the_configured_threshold_wins_when_longer() -> None:
    rules = feature_rules(ThresholdsConfig(materialization_late_minutes=900), CronJobTarget("feast", "m", 70)).rules
    (late,) = [r for r in rules if r.name == "FeatureMaterializationLate"]
    assert late.expr.endswith("> 54000")
