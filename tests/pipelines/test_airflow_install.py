"""Airflow's first install and upgrades under a waiting, atomic release (blocks/helm.py): the migration Job is an
ordinary object of the release, so the pods' `wait-for-airflow-migrations` init containers can finish; it is
deleted soon after it finishes, so an upgrade creates the next one instead of patching an immutable Job; the log
groomer sidecars are sized. Relations over the pods the chart assembles from the planned values
(tests/pipelines/airflow_chart.py)."""

from __future__ import annotations

import json

import pytest

from mlops_infra.pipelines import airflow_values as av
from mlops_infra.plan import Inventory
from tests.integration.plans import plan
from tests.nonempty import each

from .airflow_chart import WAITED_KINDS, first_install_becomes_ready, migration_job, pods
from .test_airflow import HELM, one, values


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan("variant-pipelines")


def test_the_first_install_runs_the_migration_the_waited_pods_wait_for(inv: Inventory) -> None:
    v = values(inv)
    rendered = pods(v)
    waiting = [k for k in WAITED_KINDS if any(c["name"] == "wait-for-airflow-migrations"
                                              for c in rendered[k].get("initContainers", []))]
    assert {"scheduler", "dag-processor", "triggerer", "api-server"} <= set(waiting)
    job = migration_job(v)
    assert not [a for a in job["metadata"]["annotations"] if a.startswith("helm.sh/")]
    assert first_install_becomes_ready(v)


def test_with_the_chart_default_hooks_the_first_install_never_becomes_ready(inv: Inventory) -> None:
    """The check above can fail: the chart's default (`useHelmHooks: true`) makes the migration a hook Helm runs
    only after the wait, which the pods never pass."""
    v = json.loads(json.dumps(values(inv)))
    del v["migrateDatabaseJob"]["useHelmHooks"]
    assert "helm.sh/hook" in migration_job(v)["metadata"]["annotations"]
    assert not first_install_becomes_ready(v)


def test_the_finished_migration_job_is_deleted_within_the_release_timeout(inv: Inventory) -> None:
    """A fixed Job name and no hook-delete policy: the Job must be gone before a later upgrade (or an atomic
    rollback at the release's timeout) needs a Job with another pod template; Helm then creates it anew."""
    ttl = migration_job(values(inv))["spec"].get("ttlSecondsAfterFinished")
    timeout = one(inv, HELM, "airflow-release").inputs["timeout"]
    assert isinstance(ttl, int) and 0 < ttl < timeout
    assert ttl == av.MIGRATION_JOB_TTL_SECONDS


def test_every_log_groomer_has_guaranteed_resources(inv: Inventory) -> None:
    groomers = [(name, c) for name, p in pods(values(inv)).items() for c in p["containers"]
                if c["name"].endswith("-log-groomer")]
    assert {name for name, _ in groomers} == {"scheduler", "dag-processor", "triggerer"}
    for name, c in each(groomers):
        res = c["resources"]
        assert res.get("requests") and res["requests"] == res.get("limits"), (name, res)
        assert set(res["requests"]) == {"cpu", "memory"}, name
