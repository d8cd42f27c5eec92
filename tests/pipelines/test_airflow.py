"""Airflow's runtime wiring, read from the plan of the all-engines variant (tests/integration/variants):
the metadata DB secret and endpoint, remote task logs (bucket, prefix and the roles that use them), executor
settings, the statsd metrics the rules read, and the namespace egress policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.pipelines import airflow_values as av
from mlops_infra.pipelines.airflow_metrics import CHART_MAPPINGS, exported_name, metric, rule_groups
from mlops_infra.plan import Inventory, ResourceRecord
from tests import iam_eval, netpol_eval
from tests.integration.plans import plan

HELM = "kubernetes:helm.sh/v3:Release"
ROLE, ROLE_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
SA = "kubernetes:core/v1:ServiceAccount"
ES, STORE = "kubernetes:external-secrets.io/v1:ExternalSecret", "kubernetes:external-secrets.io/v1:SecretStore"
RDS = "aws:rds/instance:Instance"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan("variant-pipelines")


def one(inv: Inventory, typ: str, name_part: str) -> ResourceRecord:
    found = [r for r in inv.of_type(typ) if name_part in r.name]
    assert len(found) == 1, f"{typ} {name_part}: {[r.name for r in found]}"
    return found[0]


def values(inv: Inventory) -> dict[str, Any]:
    return one(inv, HELM, "airflow-release").inputs["values"]


def role_for_sa(inv: Inventory, sa_name: str) -> tuple[ResourceRecord, list[Any]]:
    """The IAM role annotated on the ServiceAccount `sa_name`, and its inline policy documents."""
    (sa,) = [s for s in inv.of_type(SA) if s.inputs["metadata"]["name"] == sa_name
             and s.inputs["metadata"]["namespace"] == "airflow"]
    by_urn = inv.by_urn()
    (role,) = [by_urn[u] for u in sa.property_dependencies["metadata"] if by_urn[u].type == ROLE]
    assert sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(f"/{role.id}")
    docs = [json.loads(p.inputs["policy"]) for p in inv.of_type(ROLE_POLICY)
            if p.inputs["role"] in (role.id, role.name, role.inputs.get("name"))]
    return role, docs


def test_kubernetes_executor_with_external_postgres_and_no_bundled_stores(inv: Inventory) -> None:
    v = values(inv)
    assert v["executor"] == "KubernetesExecutor"
    assert v["postgresql"] == {"enabled": False} and v["redis"] == {"enabled": False}
    assert v["createUserJob"] == {"enabled": False}
    assert v["airflowVersion"] == v["defaultAirflowTag"] == "3.1.7"


def test_metadata_connection_comes_from_external_secrets_with_the_rds_endpoint(inv: Inventory) -> None:
    v, db = values(inv), one(inv, RDS, "airflow-db")
    es = one(inv, ES, "airflow-db-external-secret")
    assert es.inputs["metadata"]["name"] == v["data"]["metadataSecretName"]
    connection = es.inputs["spec"]["target"]["template"]["data"][av.SECRET_KEYS["metadata"]]
    address = db.inputs.get("address") or db.name  # the mock engine's address is derived from the identifier
    assert connection.startswith("postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}@")
    assert connection.endswith(":5432/airflow?sslmode=require") and "@" in connection and address
    assert es.inputs["spec"]["dataFrom"][0]["extract"]["key"].startswith("arn:aws:secretsmanager:")
    store = one(inv, STORE, "airflow-db-secret-store")
    assert es.inputs["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": store.inputs["metadata"]["name"]}
    reader = store.inputs["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"]
    _, docs = role_for_sa(inv, reader)
    secret_arn = es.inputs["spec"]["dataFrom"][0]["extract"]["key"]
    assert iam_eval.allows(docs, "secretsmanager:GetSecretValue", secret_arn)
    assert not iam_eval.allows(docs, "secretsmanager:GetSecretValue", secret_arn + "-other")
    # No credential in the release: no connection URL, no password key.
    text = json.dumps(v)
    assert "postgresql://" not in text and '"pass"' not in text and "metadataConnection" not in text


def test_remote_task_logs_go_to_the_airflow_bucket_and_the_worker_role_can_write_them(inv: Inventory) -> None:
    v = values(inv)
    bucket = one(inv, "aws:s3/bucket:Bucket", "airflow-bucket")
    name = bucket.inputs.get("bucket") or bucket.id
    logging = v["config"]["logging"]
    assert logging["remote_logging"] == "True" and logging["remote_log_conn_id"] == av.LOG_CONN_ID
    assert logging["remote_base_log_folder"] == f"s3://{name}/{av.LOG_PREFIX}"
    assert v["workers"]["serviceAccount"] == {"create": False, "name": "airflow-worker"}
    _, worker = role_for_sa(inv, "airflow-worker")
    log_object = f"arn:aws:s3:::{name}/{av.LOG_PREFIX}/dag_id=d/run_id=r/task_id=t/attempt=1.log"
    assert iam_eval.allows(worker, "s3:PutObject", log_object)
    assert not iam_eval.allows(worker, "s3:PutObject", f"arn:aws:s3:::{name}/elsewhere/x.log")
    _, api = role_for_sa(inv, "airflow-api-server")
    assert iam_eval.allows(api, "s3:GetObject", log_object) and not iam_eval.allows(api, "s3:PutObject", log_object)
    conn = next(e["value"] for e in v["env"] if e["name"] == "AIRFLOW_CONN_AWS_PLATFORM")
    assert json.loads(conn) == {"conn_type": "aws", "extra": {"region_name": "us-east-1"}}  # no keys: IRSA


def test_task_pods_get_the_platform_env_and_gpu_placement(inv: Inventory) -> None:
    env = {e["name"]: e["value"] for e in values(inv)["env"]}
    assert env["MLFLOW_TRACKING_URI"].startswith("http") and env["FEAST_FEATURE_SERVER_URL"].startswith("http")
    assert json.loads(env["MLOPS_GPU_NODE_SELECTOR"]) == {"mlops.io/gpu-pool": "spot-g6"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in json.loads(
        env["MLOPS_GPU_TOLERATIONS"])


def test_s3_dag_bundle_reads_the_dags_prefix(inv: Inventory) -> None:
    (bundle,) = values(inv)["dagProcessor"]["dagBundleConfigList"]
    assert bundle["classpath"] == "airflow.providers.amazon.aws.bundles.s3.S3DagBundle"
    _, docs = role_for_sa(inv, "airflow-dag-processor")
    key = f"arn:aws:s3:::{bundle['kwargs']['bucket_name']}/{bundle['kwargs']['prefix']}/train.py"
    assert iam_eval.allows(docs, "s3:GetObject", key) and not iam_eval.allows(docs, "s3:PutObject", key)


def test_the_rules_read_what_the_chart_statsd_exporter_publishes() -> None:
    # The StatsD names are the ones Airflow 3.1.7 emits (checked against the real source in the integration tier).
    assert exported_name("airflow.scheduler_heartbeat") == ("airflow_scheduler_heartbeat", {})
    assert exported_name("airflow.dag_processing.last_run.seconds_ago.train_py") == (
        "airflow_dag_processing_last_run_seconds_ago", {"dag_file": "train_py"})
    assert exported_name("airflow.ti_failures") == ("airflow_ti_failures", {})
    exprs = " ".join(r["expr"] for g in rule_groups("airflow") for r in g.rules)
    for name in (metric("scheduler_heartbeat"), metric("ti_failures"), CHART_MAPPINGS[1].name):
        assert name in exprs
    assert exported_name("airflow.scheduler_heartbeat", mappings=()) == ("airflow_scheduler_heartbeat", {})


def test_statsd_is_scraped_and_alerted(inv: Inventory) -> None:
    sm = one(inv, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "airflow-statsd")
    assert sm.inputs["spec"]["selector"]["matchLabels"] == {"component": "statsd", "release": av.RELEASE}
    assert sm.inputs["spec"]["endpoints"][0]["port"] == av.STATSD_SCRAPE_PORT
    rules = one(inv, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "airflow-alerts")
    alerts = {r["alert"] for g in rules.inputs["spec"]["groups"] for r in g["rules"]}
    assert alerts == {"AirflowSchedulerHeartbeatMissing", "AirflowTaskFailures", "AirflowDagProcessingLag"}


def test_task_pod_egress_is_exactly_the_platform_services(inv: Inventory) -> None:
    policies = netpol_eval.policies_in(inv)
    task = netpol_eval.Pod("airflow", {"component": "worker"})
    mlflow = netpol_eval.Pod("mlflow", {"app.kubernetes.io/name": "mlflow"})
    assert netpol_eval.allows([p for p in policies if p.namespace == "airflow"], task, mlflow, 5000)
    # The feature server as it runs (its pod labels, its container port): the task's egress and the server's
    # ingress must both admit it (the issue-27 relation: NetworkPolicy ports are pod ports).
    server = next(r for r in inv.of_type("kubernetes:apps/v1:Deployment") if r.inputs["metadata"].get("namespace") ==
                  "feast" and "serve" in str(r.inputs["spec"]["template"]["spec"]["containers"][0].get("command")))
    server_pod = netpol_eval.Pod("feast", server.inputs["spec"]["template"]["metadata"]["labels"])
    port = server.inputs["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert netpol_eval.allows(policies, task, server_pod, port)
    assert netpol_eval.allows(policies, task, netpol_eval.Pod("kube-system", {"k8s-app": "kube-dns"}), 53, "UDP")
    assert not netpol_eval.allows(policies, task, netpol_eval.Ip("8.8.8.8"), 443)
    assert not netpol_eval.allows(policies, task, netpol_eval.Pod("monitoring", {}), 9090)
    # Task pods do not reach the database or the Kubernetes API; the scheduler does.
    assert not netpol_eval.allows(policies, task, netpol_eval.Ip("10.0.1.10"), 5432)
    scheduler = netpol_eval.Pod("airflow", {"component": "scheduler"})
    assert netpol_eval.allows(policies, scheduler, netpol_eval.Ip("10.0.1.10"), 5432)


def test_orchestrators_refuse_pod_identity_for_their_database_secret_stores() -> None:
    """Their SecretStores authenticate as an IRSA ServiceAccount; under Pod Identity External Secrets would fall back
    to its own role, which reads no database secret, and the engines would never start (review of issue 27)."""
    from mlops_infra.config import ConfigError
    from mlops_infra.platform.loader import load_platform_config

    raw = {"environment": "dev", "tags": {"owner": "o", "costCenter": "c"},
           "cluster": {"publicAccessCidrs": ["203.0.113.0/24"], "workloadIdentity": "podIdentity"},
           "securityBaseline": {"enabled": True, "externalSecrets": True},
           "orchestration": {"airflow": {"enabled": True, "dags": {"source": "s3"}}}}
    with pytest.raises(ConfigError, match=r"orchestration: .* IRSA ServiceAccount token: set cluster.workloadIdentity irsa"):
        load_platform_config(raw)
