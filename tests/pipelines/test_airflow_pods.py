"""Airflow's pods as the chart assembles them from our values (tests/pipelines/airflow_chart.py): every pod passes
`restricted`, every Airflow container has a read-only root with /tmp on an emptyDir; git-sync over SSH (host key
required, egress to the git host only); the release's names (Service, ServiceMonitor selector) and what it waits
for; the S3 DAG bundle's grant against the calls it makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_policies.psa_registry import LevelVersion, evaluate

from mlops_infra.config import ConfigError
from mlops_infra.pipelines import airflow_values as av
from mlops_infra.pipelines.config import AirflowConfig
from mlops_infra.plan import Inventory, plan_program
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.security.exfiltration_guards import api_service_ips
from tests import iam_eval, netpol_eval
from tests.integration.plans import VARIANTS, plan
from tests.nonempty import each
from tests.test_helm_values_contract import contract, leaves

from .airflow_chart import pods, writable_paths
from .test_airflow import HELM, one, role_for_sa, values

RESTRICTED = LevelVersion("restricted", (1, 35))
GIT_HOST_CIDR = "203.0.113.10/32"  # TEST-NET-3 (192.0.2.0/24 stands for a prefix list in the mocks)
GIT = {"source": "gitSync", "gitRepo": "git@git.example.com:org/dags.git", "gitSshKeySecret": "dags-key",
       "gitKnownHosts": "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample", "gitEgressCidrs": [GIT_HOST_CIDR]}


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan("variant-pipelines")


@pytest.fixture(scope="module")
def git_inv(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """The pipelines variant with DAGs from git-sync instead of S3."""
    d = tmp_path_factory.mktemp("airflow-git")
    stack = yaml.safe_load((VARIANTS / "Pulumi.pipelines.yaml").read_text())
    stack["config"]["mlops:platform"]["orchestration"]["airflow"]["dags"] = GIT
    (d / "Pulumi.git.yaml").write_text(yaml.safe_dump(stack))
    project = yaml.safe_load((VARIANTS / "Pulumi.yaml").read_text())
    project["main"] = str((VARIANTS / project["main"]).resolve())
    (d / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    return plan_program(d, "git")


def violations(pod_values: dict[str, Any]) -> dict[str, list[str]]:
    return {name: [f"{v.check}: {v.detail}" for v in evaluate(RESTRICTED, {}, spec)]
            for name, spec in pods(pod_values).items()}


@pytest.mark.parametrize("variant", ["s3", "gitSync"])
def test_every_airflow_pod_passes_restricted(variant: str, inv: Inventory, git_inv: Inventory) -> None:
    v = values(inv if variant == "s3" else git_inv)
    rendered = pods(v)
    assert {"scheduler", "dag-processor", "triggerer", "api-server", "worker", "run-airflow-migrations",
            "airflow-cleanup-pods", "statsd"} <= set(rendered)
    if variant == "gitSync":
        names = {c["name"] for c in rendered["dag-processor"]["containers"] + rendered["worker"]["initContainers"]}
        assert {"git-sync", "git-sync-init"} <= names  # the check below covers git-sync
    assert violations(v) == {name: [] for name in rendered}


def test_the_check_fails_without_the_statsd_and_git_sync_contexts(git_inv: Inventory) -> None:
    """The chart gives statsd and git-sync only their own contexts: drop ours and `restricted` rejects them."""
    v = json.loads(json.dumps(values(git_inv)))
    del v["statsd"]["securityContexts"], v["dags"]["gitSync"]["securityContexts"]
    found = violations(v)
    assert any(d.startswith("runAsNonRoot") for d in found["statsd"]) and found["statsd"]
    assert any("git-sync" in d and d.startswith("allowPrivilegeEscalation") for d in found["dag-processor"])
    assert found["scheduler"] == []


def test_airflow_containers_have_a_read_only_root_and_tmp_on_an_empty_dir(inv: Inventory) -> None:
    rendered = pods(values(inv))
    airflow = {name: p for name, p in rendered.items() if name != "statsd"}
    assert airflow
    for name, pod in each(airflow.items()):
        for c in [*pod["initContainers"], *pod["containers"]]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert "/tmp" in writable_paths(pod, c["name"]), (name, c["name"])
    for name in ("scheduler", "dag-processor", "triggerer", "worker"):
        main = airflow[name]["containers"][0]["name"]
        assert writable_paths(airflow[name], main) == ["/opt/airflow/logs", "/tmp"]


def test_values_paths_exist_in_the_chart_contract() -> None:
    """The git-sync values (not in any planned variant) against the same contract the planned ones meet."""
    cfg = AirflowConfig.model_validate({"enabled": True, "dags": GIT})
    inputs = av.AirflowInputs(region="us-east-1", log_bucket="b", worker_service_account="w",
                              api_server_service_account="a", dag_processor_service_account="d")
    c = contract("airflow", cfg.chart_version)
    assert c is not None
    paths = leaves(av.chart_values(cfg, inputs, "s3://b/logs"))
    assert "dags.gitSync.securityContexts.container.readOnlyRootFilesystem" in paths
    assert [p for p in paths if not c.knows(p)] == []


def test_git_sync_requires_the_host_key_and_the_git_host_cidrs() -> None:
    raw = {"environment": "dev", "tags": {"owner": "o", "costCenter": "c"},
           "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]}, "securityBaseline": {"enabled": True},
           "orchestration": {"airflow": {"enabled": True, "dags": {k: GIT[k] for k in ("source", "gitRepo",
                                                                                       "gitSshKeySecret")}}}}
    with pytest.raises(ConfigError) as err:
        load_platform_config(raw)
    assert "dags.gitKnownHosts" in str(err.value) and "dags.gitEgressCidrs" in str(err.value)


def test_git_sync_checks_the_host_key_and_reaches_only_the_git_host_on_ssh(git_inv: Inventory) -> None:
    sync = values(git_inv)["dags"]["gitSync"]
    assert sync["knownHosts"] == GIT["gitKnownHosts"] and sync["sshKeySecret"] == "dags-key"
    policies = [p for p in netpol_eval.policies_in(git_inv) if p.namespace == "airflow"]
    host = netpol_eval.Ip(GIT_HOST_CIDR.split("/")[0])
    for component in each(av.GIT_SYNC_COMPONENTS):
        pod = netpol_eval.Pod("airflow", {"component": component})
        assert netpol_eval.allows(policies, pod, host, 22), component
        assert not netpol_eval.allows(policies, pod, netpol_eval.Ip("198.51.100.7"), 22), component
        assert not netpol_eval.allows(policies, pod, host, 443), component
    assert not netpol_eval.allows(policies, netpol_eval.Pod("airflow", {"component": "api-server"}), host, 22)


def test_no_task_installs_packages_from_the_internet(inv: Inventory) -> None:
    """The official image's entrypoint pip-installs `_PIP_ADDITIONAL_REQUIREMENTS` at start: never set; and the
    egress policy admits no public address on 443 (PyPI), so a task that tried would fail, not reach out."""
    v = values(inv)
    text = json.dumps(v)
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in text and "PIP_INDEX_URL" not in text
    policies = [p for p in netpol_eval.policies_in(inv) if p.namespace == "airflow"]
    assert policies
    for component in ("worker", "scheduler", "dag-processor"):
        pod = netpol_eval.Pod("airflow", {"component": component})
        assert not netpol_eval.allows(policies, pod, netpol_eval.Ip("151.101.0.223"), 443)  # pypi.org


def test_the_cleanup_cronjob_reaches_the_kubernetes_api(inv: Inventory) -> None:
    """The chart's cleanup CronJob (`component: airflow-cleanup-pods`) lists and deletes task pods."""
    policies = [p for p in netpol_eval.policies_in(inv) if p.namespace == "airflow"]
    scheduler = netpol_eval.Pod("airflow", {"component": "scheduler"})
    api = [netpol_eval.Ip(ip.split("/")[0]) for ip in api_service_ips(None)]  # kubernetes.default.svc
    reachable = [ip for ip in api if netpol_eval.allows(policies, scheduler, ip, 443)]
    assert reachable, "the scheduler reaches the Kubernetes API"
    cleanup = netpol_eval.Pod("airflow", {"component": "airflow-cleanup-pods"})
    assert netpol_eval.allows(policies, cleanup, reachable[0], 443)
    assert not netpol_eval.allows(policies, netpol_eval.Pod("airflow", {"component": "worker"}), reachable[0], 443)


def test_release_name_service_and_monitor_selector_match_what_the_chart_renders(inv: Inventory) -> None:
    """`airflow.fullname` is the release name when it contains the chart name (and without useStandardNaming):
    Services `<release>-api-server` (port `ports.apiServer` 8080) and `<release>-statsd`, pods labelled
    `release: <release>` (chart/templates/_helpers.yaml, api-server-service.yaml, statsd-deployment.yaml)."""
    rel = one(inv, HELM, "airflow-release")
    assert rel.inputs["name"] == av.RELEASE == "airflow"
    sm = one(inv, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "airflow-statsd")
    assert sm.inputs["spec"]["selector"]["matchLabels"]["release"] == rel.inputs["name"]
    assert inv.outputs["airflowApiServerUrl"] == "http://airflow-api-server.airflow.svc.cluster.local:8080"


def test_the_release_waits_for_its_database_and_the_secret_external_secrets_writes(inv: Inventory) -> None:
    rel = one(inv, HELM, "airflow-release")
    by_urn = inv.by_urn()
    deps = {by_urn[u].type for u in rel.dependencies if u in by_urn}
    names = {by_urn[u].name for u in rel.dependencies if u in by_urn}
    assert "aws:rds/instance:Instance" in deps
    es = one(inv, "kubernetes:external-secrets.io/v1:ExternalSecret", "airflow-db-external-secret")
    assert es.name in names and es.inputs["metadata"]["name"] == values(inv)["data"]["metadataSecretName"]


def test_the_dag_bundle_role_allows_what_s3_dag_bundle_calls(inv: Inventory) -> None:
    """providers-amazon 9.39.0 S3DagBundle: HeadBucket, ListObjectsV2 Prefix="" Delimiter="/" (check_for_prefix
    lists the level above `dags`), ListObjectsV2 Prefix="dags/", GetObject under dags/."""
    (bundle,) = values(inv)["dagProcessor"]["dagBundleConfigList"]
    bucket = f"arn:aws:s3:::{bundle['kwargs']['bucket_name']}"
    _, docs = role_for_sa(inv, "airflow-dag-processor")
    assert iam_eval.allows(docs, "s3:ListBucket", bucket)  # HeadBucket: no s3:prefix in the request
    assert iam_eval.allows(docs, "s3:ListBucket", bucket, {"s3:prefix": ""})
    assert iam_eval.allows(docs, "s3:ListBucket", bucket, {"s3:prefix": "dags/"})
    assert iam_eval.allows(docs, "s3:GetObject", f"{bucket}/dags/train.py")
    assert not iam_eval.allows(docs, "s3:GetObject", f"{bucket}/logs/dag_id=d/attempt=1.log")


def test_pods_helper_reads_the_release_values(inv: Inventory) -> None:
    assert Path(__file__).with_name("airflow_chart.py").exists()
    assert pods(values(inv))["statsd"]["securityContext"]["runAsUser"] == av.STATSD_UID
