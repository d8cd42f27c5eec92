"""Airflow's StatsD metrics as the chart's statsd-exporter publishes them, and the alert rules that read them.

Airflow sends StatsD (`[metrics] statsd_prefix = airflow`, the chart's default config); the chart's
prometheus/statsd-exporter maps them with `chart/files/statsd-mappings.yml` (apache/airflow, read at commit
08db54c7; unchanged in the mappings used here since chart 1.10). A name the mappings do not match keeps the
exporter's default: dots (and other characters Prometheus forbids) become underscores.

Only three mappings matter to the rules (`CHART_MAPPINGS`, copied as data: match, name, label):
- `airflow.scheduler_heartbeat` -> counter `airflow_scheduler_heartbeat` (Airflow: `scheduler_heartbeat`, each
  scheduler loop; airflow/jobs/scheduler_job_runner.py);
- `airflow.dag_processing.last_run.seconds_ago.*` -> gauge `airflow_dag_processing_last_run_seconds_ago{dag_file}`
  (Airflow: seconds since each DAG file was last parsed; airflow/dag_processing/manager.py);
- task failures: `airflow.ti_failures` (counter, Airflow: every failed task instance; airflow/models/taskinstance.py)
  matches no mapping, so it is `airflow_ti_failures`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..blocks.observability import RuleGroup

STATSD_PREFIX = "airflow"


@dataclass(frozen=True)
class StatsdMapping:
    match: str
    """A statsd-exporter glob (`*` = one dot-free segment)."""
    name: str
    label: str | None = None
    """The label `$1` becomes. Default: none."""


CHART_MAPPINGS: tuple[StatsdMapping, ...] = (
    StatsdMapping("airflow.scheduler_heartbeat", "airflow_scheduler_heartbeat"),
    StatsdMapping("airflow.dag_processing.last_run.seconds_ago.*", "airflow_dag_processing_last_run_seconds_ago",
                  "dag_file"),
)

# The StatsD names Airflow emits that the rules below read (without the prefix).
HEARTBEAT = "scheduler_heartbeat"
TASK_FAILURES = "ti_failures"
DAG_FILE_AGE = "dag_processing.last_run.seconds_ago.{dag_file}"


def exported_name(statsd_name: str, mappings: Sequence[StatsdMapping] = CHART_MAPPINGS) -> tuple[str, dict[str, str]]:
    """The Prometheus metric (and labels) statsd-exporter publishes for one StatsD name."""
    for m in mappings:
        pattern = "^" + re.escape(m.match).replace(r"\*", "([^.]+)") + "$"
        found = re.match(pattern, statsd_name)
        if found:
            return m.name, ({m.label: found.group(1)} if m.label else {})
    return re.sub(r"[^a-zA-Z0-9_]", "_", statsd_name), {}


def metric(statsd_name: str) -> str:
    return exported_name(f"{STATSD_PREFIX}.{statsd_name}")[0]


def rule_groups(namespace: str, *, dag_lag_seconds: int = 900) -> list[RuleGroup]:
    """Scheduler heartbeat, task failures, DAG processing lag: each reads a metric the exporter publishes."""
    sel = f'namespace="{namespace}"'
    heartbeat, failures = metric(HEARTBEAT), metric(TASK_FAILURES)
    age = metric(DAG_FILE_AGE.format(dag_file="x"))
    rules: list[Mapping[str, Any]] = [
        {"alert": "AirflowSchedulerHeartbeatMissing",
         "expr": f"sum(rate({heartbeat}{{{sel}}}[5m])) == 0 or absent({heartbeat}{{{sel}}})",
         "for": "5m", "labels": {"severity": "critical"},
         "annotations": {"summary": "The Airflow scheduler has not heartbeated for 5 minutes: no task is scheduled."}},
        {"alert": "AirflowTaskFailures",
         "expr": f"sum(increase({failures}{{{sel}}}[15m])) > 0",
         "for": "0m", "labels": {"severity": "warning"},
         "annotations": {"summary": "Airflow task instances failed in the last 15 minutes ({{ $value }})."}},
        {"alert": "AirflowDagProcessingLag",
         "expr": f"max({age}{{{sel}}}) > {dag_lag_seconds}",
         "for": "10m", "labels": {"severity": "warning"},
         "annotations": {"summary": "A DAG file has not been parsed for {{ $value }}s: DAG changes are not picked up."}},
    ]
    return [RuleGroup("airflow", rules)]
