"""Every RDS instance of a monitored stack gets the Postgres block's alarm set (issue #27: only MLflow's and the Feast
registry's databases had alarms; LakeFS's, Airflow's, Kubeflow Pipelines', Metaflow's and Prefect's had none).

The relation is read from the plan: each alarm's `DBInstanceIdentifier` dimension depends on the instance it watches
(the engine's property dependencies), and notifies the stack's alert topic when it fires and when it clears."""

from __future__ import annotations

import pytest

from mlops_infra.blocks.postgres import RDS_ALARMS
from mlops_infra.plan import Inventory
from tests.integration.plans import plan

INSTANCE, ALARM, TOPIC = "aws:rds/instance:Instance", "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sns/topic:Topic"


def _watched(inv: Inventory) -> dict[str, set[str]]:
    """Instance URN -> the AWS/RDS metrics alarmed on it."""
    found: dict[str, set[str]] = {}
    for alarm in inv.of_type(ALARM):
        if alarm.inputs.get("namespace") != "AWS/RDS":
            continue
        sources = [u for u in alarm.property_dependencies.get("dimensions", []) if u.split("::")[-2].endswith(INSTANCE)]
        assert len(sources) == 1, f"{alarm.name}: its dimension comes from one instance ({sources})"
        found.setdefault(sources[0], set()).add(alarm.inputs["metricName"])
    return found


@pytest.mark.parametrize("label", ["prod", "staging", "variant-pipelines", "variant-redis-sql"])
def test_every_database_has_the_blocks_alarm_set(label: str) -> None:
    inv = plan(label)
    instances = {r.urn: r.name for r in inv.of_type(INSTANCE)}
    assert instances, f"{label} plans RDS instances"
    watched = _watched(inv)
    expected = {a.metric for a in RDS_ALARMS}
    missing = {name: sorted(expected - watched.get(urn, set())) for urn, name in instances.items()
               if not expected <= watched.get(urn, set())}
    assert missing == {}, f"{label}: instances without their alarms"


@pytest.mark.parametrize("label", ["prod", "variant-pipelines"])
def test_database_alarms_notify_the_alert_topic_both_ways(label: str) -> None:
    inv = plan(label)
    (topic,) = inv.of_type(TOPIC)
    alarms = [a for a in inv.of_type(ALARM) if a.inputs.get("namespace") == "AWS/RDS"]
    assert alarms
    for alarm in alarms:
        assert topic.urn in alarm.property_dependencies.get("alarmActions", []), alarm.name
        assert topic.urn in alarm.property_dependencies.get("okActions", []), alarm.name
