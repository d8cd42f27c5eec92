"""Orchestrator policies (policies/mlops_policies/pipelines.py) on hand-built inputs, and on the all-engines plan."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.pipelines.airflow_values import AirflowInputs, chart_values
from mlops_infra.pipelines.config import AirflowConfig
from tests.integration.plans import plan

from .cases import Case, check, params
from .helpers import R, messages

NS, RELEASE, INGRESS = "kubernetes:core/v1:Namespace", "kubernetes:helm.sh/v3:Release", \
    "kubernetes:networking.k8s.io/v1:Ingress"
ES, RDS = "kubernetes:external-secrets.io/v1:ExternalSecret", "aws:rds/instance:Instance"
UI, DB, KEYS = "mlops-orchestrator-ui-private", "mlops-orchestrator-metadata-db", "mlops-orchestrator-keys-from-secrets"


def ns(name: str = "airflow", orchestrator: bool = True) -> R:
    labels = {"mlops.io/orchestrator": name} if orchestrator else {}
    return R(NS, f"ns-{name}", {"metadata": {"name": name, "labels": labels}})


def airflow(**override: Any) -> R:
    cfg = AirflowConfig.model_validate({"enabled": True, "dags": {"source": "s3"}, **override})
    inputs = AirflowInputs(region="us-east-1", log_bucket="b", worker_service_account="w",
                           api_server_service_account="a", dag_processor_service_account="d")
    return R(RELEASE, "airflow", {"chart": "airflow", "namespace": "airflow",
                                  "values": chart_values(cfg, inputs, "s3://b/logs")})


UI_ON = {"ui": {"ingress": True, "host": "a.example.com",
                "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}}


def ingress(scheme: str, namespace: str = "kubeflow") -> R:
    return R(INGRESS, "kfp-ui", {"metadata": {"name": "ui", "namespace": namespace,
                                              "annotations": {"alb.ingress.kubernetes.io/scheme": scheme}}})


def db(**override: Any) -> R:
    return R(RDS, "airflow-db", {"storageEncrypted": True, "publiclyAccessible": False, "backupRetentionPeriod": 14,
                                 **override})


def external_secret(namespace: str = "airflow") -> R:
    return R(ES, "airflow-metadata", {"metadata": {"name": "airflow-metadata", "namespace": namespace},
                                      "spec": {"dataFrom": [{"extract": {"key": "arn"}}]}}, deps={"spec": ["airflow-db"]})


GIT = {"dags": {"source": "gitSync", "gitRepo": "git@example.com:org/dags.git", "gitSshKeySecret": "dags-key",
                "gitKnownHosts": "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
                "gitEgressCidrs": ["192.0.2.10/32"]}}
CASES = [
    Case("internal-alb", UI, [ns(), airflow(**UI_ON)], []),
    Case("public-alb", UI, [ns(), airflow(ui={**UI_ON["ui"], "internal": False})],
         ["airflow: values.ingress.apiServer.annotations.alb.ingress.kubernetes.io/scheme is internet-facing "
          "(orchestrator UIs stay private in prod)"]),
    Case("public-ingress", UI, [ns("kubeflow"), ingress("internet-facing")],
         ["kfp-ui: values.metadata.annotations.alb.ingress.kubernetes.io/scheme is internet-facing "
          "(orchestrator UIs stay private in prod)"]),
    Case("public-in-staging", UI, [ns("kubeflow"), ingress("internet-facing")], [], env="staging"),
    Case("not-an-orchestrator", UI, [ns("web", orchestrator=False), ingress("internet-facing", "web")], []),
    Case("db-ok", DB, [ns(), db(), external_secret()], []),
    Case("db-bad", DB, [ns(), db(storageEncrypted=False, publiclyAccessible=True, backupRetentionPeriod=1),
                        external_secret()],
         ["airflow-db: backupRetentionPeriod 1 is below 7 days", "airflow-db: publiclyAccessible is true",
          "airflow-db: storageEncrypted is not true"]),
    Case("db-dev-1-day", DB, [ns(), db(backupRetentionPeriod=1), external_secret()], [], env="dev"),
    Case("db-elsewhere", DB, [ns(), db(publiclyAccessible=True), external_secret("other")], []),
    Case("git-key-secret", KEYS, [ns(), airflow(**GIT)], []),
    Case("git-key-value", KEYS, [ns(), R(RELEASE, "airflow", {"chart": "airflow", "namespace": "airflow", "values": {
        "dags": {"gitSync": {"sshKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc"}}}})],
         ["airflow: values.dags.gitSync.sshKey holds a private key"]),
    Case("plain-api-key", KEYS, [ns("prefect"), R(RELEASE, "prefect", {"chart": "prefect-worker", "namespace": "prefect",
                                                                       "values": {"env": [{"name": "PREFECT_API_KEY",
                                                                                           "value": "pnu_x"}]}})],
         ["prefect: values.env[0] sets PREFECT_API_KEY as a plain value, not a secretKeyRef"]),
]


@params(CASES)
def test_pipelines_policies(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("policy", [UI, DB, KEYS])
def test_the_all_engines_plan_passes(policy: str) -> None:
    from mlops_policies.runner import evaluate

    # The variant is a dev stack: its databases keep the dev profile's 3 days of backups.
    env = "dev" if policy == DB else "prod"
    report = evaluate(plan("variant-pipelines").to_json(), environment=env, only=[policy])
    assert [f.message for f in report.findings] == []
    assert messages is not None


def test_the_irsa_invariant_covers_the_executor_service_accounts() -> None:
    """The executor ServiceAccounts (Airflow workers, KFP pipeline-runner) are bound to roles whose trust names
    them: the existing invariant passes on the plan, and flags a renamed ServiceAccount the trust does not allow."""
    from mlops_policies.runner import evaluate

    irsa = "mlops-inv-workload-identity"
    inventory = plan("variant-pipelines").to_json()
    assert [f.message for f in evaluate(inventory, environment="prod", only=[irsa]).findings] == []
    for r in inventory["resources"]:
        if r["type"] == "kubernetes:core/v1:ServiceAccount" and r["inputs"]["metadata"]["name"] == "airflow-worker":
            r["inputs"]["metadata"]["name"] = "airflow-worker-renamed"
    found = [f.message for f in evaluate(inventory, environment="prod", only=[irsa]).findings]
    assert any("airflow-worker" in m for m in found), found
