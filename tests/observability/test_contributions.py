"""Each component contributes its own observability (issue 17): the rules, dashboards and alarms a concern owns are
its children, built from values it owns, and they select what it really runs.

Runtime relations checked on the dev and prod platform plans: the `job` an MLflow alert selects is the name of the
Service the registry's ServiceMonitor scrapes (Prometheus names the job after the Service); the CronJob a
materialization alert watches is the feature store's CronJob; a registry stand-alone (tests/programs/model_registry)
contributes to given refs, and contributes nothing without them.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import PROGRAMS, planned
from tests.nonempty import each
from tests.observability.conftest import ALARM, PROMETHEUS_RULE, SERVICE_MONITOR

OWNERS = {"mlops-gpu": "mlops:compute:ClusterObservability", "mlops-cluster": "mlops:compute:ClusterObservability",
          "mlops-model-registry": "mlops:registry:ModelRegistryObservability",
          "mlops-features": "mlops:features:FeatureStoreObservability"}


def ancestors(inv: Inventory, record: ResourceRecord) -> list[ResourceRecord]:
    by_urn, out, parent = inv.by_urn(), [], record.parent
    while parent in by_urn:
        out.append(by_urn[parent])
        parent = by_urn[parent].parent
    return out


def rules(inv: Inventory) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for r in inv.of_type(PROMETHEUS_RULE)
            for group in r.inputs["spec"]["groups"] for rule in group["rules"]}


def selected(expr: str, label: str) -> str:
    [value] = set(re.findall(rf'\b{label}="([^"]+)"', expr))
    return value


def scraped_service(inv: Inventory, monitor: ResourceRecord) -> ResourceRecord:
    """The Service a ServiceMonitor selects: its labels match, in a namespace the monitor names."""
    spec = monitor.inputs["spec"]
    want, namespaces = spec["selector"]["matchLabels"], spec["namespaceSelector"]["matchNames"]
    [service] = [s for s in inv.of_type("kubernetes:core/v1:Service")
                 if s.inputs["metadata"]["namespace"] in namespaces
                 and want.items() <= (s.inputs["metadata"].get("labels") or {}).items()]
    return service


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_rule_group_belongs_to_the_concern_that_owns_it(stack: str) -> None:
    inv = planned(stack)
    seen = {}
    for record in inv.of_type(PROMETHEUS_RULE):
        [group] = record.inputs["spec"]["groups"]
        seen[group["name"]] = record.parent and inv.by_urn()[record.parent].type
    assert {g: seen.get(g) for g in OWNERS} == OWNERS  # (add-ons contribute their own groups too)
    assert "mlops:observability:MonitoringCore" not in seen.values()
    assert not [r for r in inv if r.type == "mlops:monitoring:MonitoringStack"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_mlflow_alerts_select_the_job_of_the_service_the_registry_scrapes(stack: str) -> None:
    inv = planned(stack)
    [monitor] = [m for m in inv.of_type(SERVICE_MONITOR)
                 if any(a.type == "mlops:registry:MlflowRegistry" for a in ancestors(inv, m))]
    service = scraped_service(inv, monitor)
    for alert in ("MlflowDown", "MlflowHighLatency"):
        expr = rules(inv)[alert]["expr"]
        assert selected(expr, "job") == service.inputs["metadata"]["name"], alert
        assert selected(expr, "namespace") == service.inputs["metadata"]["namespace"], alert


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_materialization_alerts_watch_the_feature_stores_cronjob(stack: str) -> None:
    inv = planned(stack)
    [cron] = [c for c in inv.of_type("kubernetes:batch/v1:CronJob")
              if any(a.type == "mlops:features:FeastFeatureStore" for a in ancestors(inv, c))]
    meta = cron.inputs["metadata"]
    failed, late = rules(inv)["FeatureMaterializationFailed"]["expr"], rules(inv)["FeatureMaterializationLate"]["expr"]
    assert selected(failed, "owner_name") == selected(late, "cronjob") == meta["name"]
    assert selected(late, "namespace") == meta["namespace"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_data_store_alarms_are_the_owners_and_name_their_stores(stack: str) -> None:
    inv = planned(stack)
    for alarm in each(inv.of_type(ALARM)):
        namespace = alarm.inputs["namespace"]
        owners = [a.type for a in ancestors(inv, alarm) if a.type.startswith("mlops:") and "Observability" in a.type]
        if namespace == "AWS/RDS" and not owners:  # the Postgres block's own alarms: beside the instance they watch
            [db] = [inv.by_urn()[u] for u in alarm.property_dependencies["dimensions"]]
            assert alarm.parent == db.parent and alarm.name.startswith(f"{db.name}-alarm-"), alarm.name
            continue
        owner = owners[0]
        expected = {"AWS/DynamoDB": "mlops:features:FeatureStoreObservability",
                    "AWS/NATGateway": "mlops:compute:ClusterObservability",
                    "ContainerInsights": "mlops:compute:ClusterObservability"}.get(namespace)
        if namespace == "AWS/RDS":  # MLflow's database, or the Feast SQL registry
            [db] = [inv.by_urn()[u] for u in alarm.property_dependencies["dimensions"]]
            expected = ("mlops:registry:ModelRegistryObservability" if "-registry-" in db.name
                        else "mlops:features:FeatureStoreObservability")
        assert owner == expected, alarm.name


def test_a_registry_alone_contributes_to_the_refs_it_is_given() -> None:
    inv = planned("prod", PROGRAMS / "model_registry")
    [contribution] = [r for r in inv if r.type == "mlops:registry:ModelRegistryObservability"]
    assert inv.by_urn()[contribution.parent].type == "mlops:registry:MlflowRegistry"
    assert sorted(rules(inv)) == ["MlflowDown", "MlflowHighLatency", "PredictionDrift"]
    assert {r.inputs["metadata"]["namespace"] for r in inv.of_type(PROMETHEUS_RULE)} == {"monitoring"}
    assert {tuple(a.inputs["alarmActions"]) for a in inv.of_type(ALARM)} == {("arn:aws:sns:us-east-1:123456789012:alerts",)}


def test_a_feature_store_without_refs_contributes_nothing() -> None:
    inv = planned("prod", PROGRAMS / "feature_store")
    assert not [r for r in inv if r.type == "mlops:features:FeatureStoreObservability"]
    assert inv.of_type(PROMETHEUS_RULE) == [] and inv.of_type(ALARM) == []
