"""Every namespace of prod that runs pods is watched for crash-looping containers by exactly one alert rule.

Judged on what the cluster receives (prod with every chart rendered): the crash-loop rules are the rendered
PrometheusRules' alerts on `kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}` (kube-prometheus-stack's
KubePodCrashLooping, and any of ours); a rule covers a namespace when every label matcher of its selector admits the
series kube-state-metrics exports for a container there (PromQL regexes are anchored). kube-state-metrics, the
exporter, must run and watch every namespace. Needs kube-prometheus-stack in this machine's chart store (skipped
otherwise, like tests/platform/test_rendered_relations.py).
"""

from __future__ import annotations

import re
from typing import Any

import promql_parser
import pytest

from mlops_infra.compute.observability import cluster_rules
from mlops_infra.plan import Inventory
from tests.conftest import planned, stored_chart_missing
from tests.nonempty import each

METRIC = "kube_pod_container_status_waiting_reason"
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}


@pytest.fixture(scope="module")
def rendered() -> Inventory:
    if stored_chart_missing("kube-prometheus-stack"):
        pytest.skip("chart store on this machine lacks kube-prometheus-stack (tools/vendor_charts_*.sh)")
    return planned("prod", render=True)


def objects(inv: Inventory) -> list[dict[str, Any]]:
    return [r.inputs for r in inv.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind")]


def selectors(expr: str, metric: str) -> list[list[tuple[str, str, str]]]:
    """(label, op, value) matchers of each selector of `metric` in `expr` (parsed, not grepped)."""
    found: list[list[tuple[str, str, str]]] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name == metric:
            found.append([(m.name, str(m.op).rsplit(".", 1)[-1], m.value) for m in node.matchers.matchers])
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def admits(matchers: list[tuple[str, str, str]], series: dict[str, str]) -> bool:
    """Every matcher holds for the series' labels (a missing label is the empty string, as in Prometheus)."""
    for label, op, value in matchers:
        actual = series.get(label, "")
        ok = {"Equal": actual == value, "NotEqual": actual != value,
              "Re": re.fullmatch(value, actual) is not None, "NotRe": re.fullmatch(value, actual) is None}[op]
        if not ok:
            return False
    return True


def crash_loop_alerts(inv: Inventory) -> dict[str, list[list[tuple[str, str, str]]]]:
    """Alert name -> the selectors of the metric in its expression, for alerts on CrashLoopBackOff waits."""
    out: dict[str, list[list[tuple[str, str, str]]]] = {}
    for obj in objects(inv):
        if obj["kind"] != "PrometheusRule":
            continue
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                found = selectors(str(rule.get("expr", "")), METRIC) if "alert" in rule else []
                if any(("reason", "Equal", "CrashLoopBackOff") in s for s in found):
                    out.setdefault(rule["alert"], []).extend(found)
    return out


def pod_namespaces(inv: Inventory) -> set[str]:
    return {obj["metadata"].get("namespace", "default") for obj in objects(inv) if obj["kind"] in POD_KINDS}


def test_each_namespace_with_pods_is_watched_by_exactly_one_crash_loop_alert(rendered: Inventory) -> None:
    alerts = crash_loop_alerts(rendered)
    assert set(alerts) == {"KubePodCrashLooping"}  # the chart's; none of ours doubles it
    # The add-ons' namespaces are among those judged (the old rule of ours missed them).
    namespaces = pod_namespaces(rendered)
    assert {"lakefs", "qdrant", "mlflow", "monitoring"} <= namespaces
    for namespace in each(sorted(namespaces)):
        series = {"__name__": METRIC, "job": "kube-state-metrics", "namespace": namespace, "pod": "p",
                  "container": "c", "reason": "CrashLoopBackOff"}
        covering = [name for name, found in alerts.items() if any(admits(m, series) for m in found)]
        assert covering == ["KubePodCrashLooping"], (namespace, covering)


def test_the_exporter_the_rule_reads_runs_and_watches_every_namespace(rendered: Inventory) -> None:
    """The rule selects `job="kube-state-metrics"`: that Deployment runs, with no namespace restriction."""
    [ksm] = [o for o in objects(rendered) if o["kind"] == "Deployment"
             and o["metadata"]["name"].endswith("kube-state-metrics")]
    [container] = ksm["spec"]["template"]["spec"]["containers"]
    assert not [a for a in container.get("args", []) if a.startswith(("--namespaces=", "--namespaces-denylist="))]
    for found in each(crash_loop_alerts(rendered)["KubePodCrashLooping"]):
        assert ("job", "Equal", "kube-state-metrics") in found


def test_the_clusters_own_rules_leave_crash_loops_to_the_chart() -> None:
    assert [r.name for r in cluster_rules().rules] == ["NodeNotReady"]
