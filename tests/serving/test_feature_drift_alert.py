"""Feature drift is alerted exactly where something exports it (#28 review: FeatureDrift with the feature store off).

The metric's exporters in a plan: with a feature store, batch jobs by contract (README: Drift metrics) and its own
FeatureDrift rule covers every model; without one, only the serving monitor CronJobs of models with `features`
(their `FEATURES` env) push it, so an alert on it must select exactly those models' jobs."""

from __future__ import annotations

import re
from typing import Any

from mlops_infra.observability.monitoring_rules import DRIFT_METRIC
from mlops_infra.plan import Inventory
from mlops_infra.serving.rules import MONITOR_JOB
from tests.integration.plans import plan
from tests.integration.rendered import rule_groups

DRIFT_SELECTOR = re.compile(DRIFT_METRIC + r"(\{[^}]*\})?")


def _drift_alerts(inv: Inventory) -> list[dict[str, Any]]:
    """Alerts that fire on the metric's value (not `absent()` of it: ModelMonitorMissing's, which fires when
    nothing exports it)."""
    return [r for g in rule_groups(inv) for r in g["rules"] if "alert" in r and DRIFT_METRIC in r["expr"]
            and not r["expr"].startswith("absent(")]


def _feature_exporters(inv: Inventory) -> set[str]:
    """Models whose monitor CronJob computes feature drift (a non-empty FEATURES)."""
    found = set()
    for r in inv.of_type("kubernetes:batch/v1:CronJob"):
        [job] = r.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value", "") for e in job.get("env", [])}
        if env.get("FEATURES"):
            found.add(str(env["MODEL"]))
    return found


def _selected_models(alert: dict[str, Any]) -> set[str]:
    selectors = [m.group(1) or "" for m in DRIFT_SELECTOR.finditer(alert["expr"])]
    assert selectors, alert["alert"]
    assert all(f'job="{MONITOR_JOB}"' in s for s in selectors), f"{alert['alert']} selects other exporters: {selectors}"
    return {re.search(r'model="([^"]+)"', s).group(1) for s in selectors}  # type: ignore[union-attr]


def test_without_a_feature_store_drift_alerts_select_exactly_the_models_that_export_it() -> None:
    inv = plan("variant-serving-no-features")
    exporters = _feature_exporters(inv)
    assert exporters == {"churn"}, "the variant serves one model with features and one without"
    alerts = _drift_alerts(inv)
    assert alerts, "feature drift is alerted on"
    assert {a["alert"] for a in alerts} == {"ModelFeatureDrift"}, "no unselected FeatureDrift without a feature store"
    assert set().union(*(_selected_models(a) for a in alerts)) == exporters


def test_with_a_feature_store_its_rule_alone_alerts_on_feature_drift() -> None:
    inv = plan("staging")
    assert [g for g in rule_groups(inv) if g["name"].startswith("serving-")], "staging serves models"
    assert [a["alert"] for a in _drift_alerts(inv)] == ["FeatureDrift"]
