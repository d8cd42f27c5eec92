"""Airflow's runtime identities and limits beyond the task pods: the triggerer's log upload, the API server's
reading of running task logs, the timeouts a GPU cold start outlives, the cleanup CronJob's memory."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mlops_infra.pipelines import airflow_values as av
from mlops_infra.plan import Inventory, plan_program
from tests import iam_eval
from tests.integration.plans import VARIANTS, plan

from .test_airflow import SA, one, role_for_sa, values

ROLE, BINDING = "kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan("variant-pipelines")


def test_the_triggerer_runs_as_a_service_account_whose_role_writes_the_log_prefix(inv: Inventory) -> None:
    """Airflow 3.1.7's triggerer uploads trigger logs with remote_log_conn_id (jobs/triggerer_job_runner.py)."""
    v = values(inv)
    sa = v["triggerer"]["serviceAccount"]
    assert sa["create"] is False and sa["name"]
    bucket = v["config"]["logging"]["remote_base_log_folder"].removeprefix("s3://")
    _, docs = role_for_sa(inv, sa["name"])
    log_object = f"arn:aws:s3:::{bucket}/dag_id=d/run_id=r/task_id=t/attempt=1.log.trigger.7.log"
    assert bucket.endswith(f"/{av.LOG_PREFIX}")
    assert iam_eval.allows(docs, "s3:PutObject", log_object)
    assert not iam_eval.allows(docs, "s3:PutObject", log_object.replace(f"/{av.LOG_PREFIX}/", "/dags/"))


def _rules_bound_to(inv: Inventory, sa_name: str) -> list[dict[str, Any]]:
    roles = {r.inputs["metadata"]["name"]: r for r in inv.of_type(ROLE)
             if r.inputs["metadata"]["namespace"] == "airflow"}
    rules: list[dict[str, Any]] = []
    for b in inv.of_type(BINDING):
        if b.inputs["metadata"]["namespace"] != "airflow":
            continue
        if any(s["kind"] == "ServiceAccount" and s["name"] == sa_name for s in b.inputs["subjects"]):
            rules += roles[b.inputs["roleRef"]["name"]].inputs["rules"]
    return rules


def _allowed(rules: list[dict[str, Any]], resource: str, verb: str) -> bool:
    return any("" in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def test_the_api_server_mounts_a_token_that_reads_running_task_logs_and_nothing_more(inv: Inventory) -> None:
    """KubernetesExecutor.get_task_log (cncf-kubernetes 10.25.0): list_namespaced_pod, read_namespaced_pod_log. The
    chart's api-server Deployment sets no pod-level automountServiceAccountToken (api-server-deployment.yaml), so the
    ServiceAccount's setting decides."""
    name = values(inv)["apiServer"]["serviceAccount"]["name"]
    (sa,) = [s for s in inv.of_type(SA) if s.inputs["metadata"]["name"] == name
             and s.inputs["metadata"]["namespace"] == "airflow"]
    assert sa.inputs["automountServiceAccountToken"] is True
    rules = _rules_bound_to(inv, name)
    assert rules, "a Role is bound to the API server's ServiceAccount"
    assert _allowed(rules, "pods", "list") and _allowed(rules, "pods/log", "get")
    for resource, verb in [("pods", "delete"), ("pods", "create"), ("secrets", "get"), ("pods/exec", "create")]:
        assert not _allowed(rules, resource, verb), (resource, verb)
    assert all(set(r["verbs"]) <= {"get", "list"} for r in rules)


def test_a_queued_gpu_task_outlives_a_scale_from_zero_cold_start(inv: Inventory) -> None:
    config = values(inv)["config"]
    assert float(config["scheduler"]["task_queued_timeout"]) >= 3600  # Airflow default 600.0
    assert int(config["execution_api"]["jwt_expiration_time"]) >= 3600  # Airflow default 600


def test_the_cleanup_cronjob_has_headroom_over_its_measured_241_mib(inv: Inventory) -> None:
    limit = values(inv)["cleanup"]["resources"]["limits"]["memory"]
    assert limit.endswith("Mi") and 241 / int(limit.removesuffix("Mi")) < 0.5
    assert one(inv, "kubernetes:helm.sh/v3:Release", "airflow-release")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """The pipelines variant as a stack deployed with 0.1 (mlops:helmReleaseNames: generated)."""
    d = tmp_path_factory.mktemp("airflow-generated")
    stack = yaml.safe_load((VARIANTS / "Pulumi.pipelines.yaml").read_text())
    stack["config"]["mlops:helmReleaseNames"] = "generated"
    (d / "Pulumi.gen.yaml").write_text(yaml.safe_dump(stack))
    project = yaml.safe_load((VARIANTS / "Pulumi.yaml").read_text())
    project["main"] = str((VARIANTS / project["main"]).resolve())
    (d / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    return plan_program(d, "gen")


def test_with_generated_release_names_the_monitor_and_url_name_the_generated_release(generated: Inventory) -> None:
    """Without a name, pulumi-kubernetes names the release `<resource name>-<hex>`; it contains "airflow", so the
    chart's `airflow.fullname` is that name: Service `<release>-api-server`, pods labelled `release: <release>`."""
    rel = one(generated, "kubernetes:helm.sh/v3:Release", "airflow-release")
    assert "name" not in rel.inputs
    sm = one(generated, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "airflow-statsd")
    assert rel.urn in sm.property_dependencies["spec"]  # the selector is the release's output
    released = sm.inputs["spec"]["selector"]["matchLabels"]["release"]
    assert released.startswith(f"{rel.name}-") and released != av.RELEASE and "airflow" in released
    assert generated.outputs["airflowApiServerUrl"] == f"http://{released}-api-server.airflow.svc.cluster.local:8080"


def async_connection(inv: Inventory) -> tuple[str, str]:
    """The sync and async metadata URL templates of the ExternalSecret (credentials as Go templates)."""
    es = one(inv, "kubernetes:external-secrets.io/v1:ExternalSecret", "airflow-db-external-secret")
    data = es.inputs["spec"]["target"]["template"]["data"]
    return data[av.SECRET_KEYS["metadata"]], data[av.ASYNC_CONNECTION_KEY]


def test_the_api_server_and_scheduler_read_an_asyncpg_url_without_sslmode(inv: Inventory) -> None:
    """asyncpg's connect() takes `ssl`, not libpq's `sslmode` (the URL Airflow would derive from the sync one)."""
    sync, async_url = async_connection(inv)
    assert sync.endswith("?sslmode=require")
    assert async_url == sync.replace("postgresql://", "postgresql+asyncpg://").replace("sslmode=", "ssl=")
    v = values(inv)
    secret = v["data"]["metadataSecretName"]
    for component in ("apiServer", "scheduler"):
        (env,) = [e for e in v[component]["env"] if e["name"] == "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"]
        assert env["valueFrom"]["secretKeyRef"] == {"name": secret, "key": av.ASYNC_CONNECTION_KEY}
