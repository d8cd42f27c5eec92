"""Every consumer namespace of MLflow holds a credentials Secret its pods reference (issue 27, item 4).

With MLflow's basic-auth app (prod; the all-engines variant turns it on in dev) a tracking call without credentials
answers 401. The consumers are the namespaces the tracking server's NetworkPolicy admits to its API port (besides its
own): the teams and the orchestrators. Each must hold the Secret `mlflow-credentials` with its own user, whose
password is one the users Job sets in MLflow, and each engine's task pods must read that Secret. The real MLflow
runs the users Job and logs as each of those users in tests/integration/test_mlflow.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlops_infra.plan import Inventory, ResourceRecord
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.registry.mlflow_users import CREDENTIALS_SECRET, PASSWORD_ENV, USERNAME_ENV
from tests.conftest import ROOT, planned
from tests.integration.plans import plan

SECRET = "kubernetes:core/v1:Secret"
PASSWORD = "random:index/randomPassword:RandomPassword"
RELEASE = "kubernetes:helm.sh/v3:Release"


def consumers(inv: Inventory) -> list[str]:
    """Namespaces the MLflow ingress policy admits by name to the API port, besides the server's own. (The peer
    that admits namespaces labelled `mlops.io/platform-client`, team workspaces of other stacks, names none: a
    workspace's MLflow user is not this stack's to make.)"""
    [policy] = [r for r in inv.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r.name.endswith("-mlflow-ingress-policy")]
    own = policy.inputs["metadata"]["namespace"]
    api_rule = policy.inputs["spec"]["ingress"][0]
    named = [expr for peer in api_rule["from"] for expr in (peer.get("namespaceSelector") or {}).get(
        "matchExpressions", []) if expr.get("key") == "kubernetes.io/metadata.name"]
    assert len(named) == 1, "one peer names the admitted namespaces"
    return sorted(set(named[0]["values"]) - {own})


def users_job_passwords(inv: Inventory) -> set[str]:
    """URNs of the passwords the users Job's mounted Secret holds (one file per MLflow user)."""
    [job] = [r for r in inv.of_type("kubernetes:batch/v1:Job") if r.name.endswith("-mlflow-users")]
    [volume] = job.inputs["spec"]["template"]["spec"]["volumes"]
    [mounted] = [s for s in inv.of_type(SECRET) if s.inputs["metadata"]["name"] == volume["secret"]["secretName"]]
    urns = {r.urn: r for r in inv}
    return {u for u in mounted.property_dependencies["stringData"] if urns[u].type == PASSWORD}


def credentials(inv: Inventory, namespace: str) -> ResourceRecord:
    found = [s for s in inv.of_type(SECRET) if s.inputs["metadata"]["namespace"] == namespace
             and s.inputs["metadata"]["name"] == CREDENTIALS_SECRET]
    assert len(found) == 1, f"{namespace}: {len(found)} Secrets {CREDENTIALS_SECRET!r}"
    return found[0]


@pytest.mark.parametrize("label", ["prod", "variant-pipelines"])
def test_every_mlflow_consumer_namespace_holds_its_own_credentials_set_by_the_users_job(label: str) -> None:
    inv = planned(label) if label == "prod" else plan(label)
    names = consumers(inv)
    assert names, f"{label}: the tracking server admits no client namespace"
    job_passwords = users_job_passwords(inv)
    urns = {r.urn: r for r in inv}
    seen: set[str] = set()
    for ns in names:
        secret = credentials(inv, ns)
        [password] = [u for u in secret.property_dependencies["stringData"] if urns[u].type == PASSWORD]
        assert password in job_passwords, f"{ns}: its Secret holds a password the users Job never sets in MLflow"
        assert password not in seen, f"{ns}: shares its MLflow password with another namespace"
        seen.add(password)
    # Team workspaces (`cluster.workspaces`) have users too: tests/platform/test_workspace_credentials.py.
    workspaces = [u for u in job_passwords if urns[u].name.rsplit("-user-", 1)[-1] not in names]
    assert len(job_passwords) == len(names) + len(workspaces), "one MLflow user per consumer namespace"
    assert {urns[u].name.rsplit("-user-", 1)[-1] for u in workspaces} == set(_workspaces(label)), "no strays"


def _workspaces(label: str) -> list[str]:
    """The team workspaces the plan's config lists (prod's stack config; the variants list none)."""
    if label != "prod":
        return []
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"]
    return list(load_platform_config(raw["mlops:platform"]).cluster.workspaces)


def _release(inv: Inventory, suffix: str) -> dict[str, Any]:
    [found] = [r for r in inv.of_type(RELEASE) if r.name.endswith(suffix)]
    values: dict[str, Any] = found.inputs["values"]
    return values


def _airflow_reads(inv: Inventory) -> set[tuple[str, str, str]]:
    return {(e["envName"], e["secretName"], e["secretKey"])
            for e in _release(inv, "-airflow-release").get("secret", [])}


@pytest.mark.parametrize("label", ["prod", "variant-pipelines"])
def test_airflow_task_pods_read_the_mlflow_credentials(label: str) -> None:
    """The chart's `secret` entries reach every Airflow container and the KubernetesExecutor's pod template
    (apache/airflow chart/templates/_helpers.yaml `custom_airflow_environment`)."""
    inv = planned(label) if label == "prod" else plan(label)
    assert "airflow" in consumers(inv)
    credentials(inv, "airflow")
    assert _airflow_reads(inv) >= {(USERNAME_ENV, CREDENTIALS_SECRET, USERNAME_ENV),
                                   (PASSWORD_ENV, CREDENTIALS_SECRET, PASSWORD_ENV)}


def test_prefect_flow_runs_read_the_mlflow_credentials() -> None:
    inv = plan("variant-pipelines")
    assert "prefect" in consumers(inv)
    credentials(inv, "prefect")
    [worker] = [r for r in inv.of_type(RELEASE) if r.name.endswith("-prefect-worker")]
    template = json.loads(worker.inputs["values"]["worker"]["config"]["baseJobTemplate"]["configuration"])
    pod = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert {"secretRef": {"name": CREDENTIALS_SECRET}} in container["envFrom"]


def test_metaflow_steps_read_the_mlflow_credentials() -> None:
    """Steps get the Secret METAFLOW_KUBERNETES_SECRETS names: it carries the metaflow user's credentials."""
    inv = plan("variant-pipelines")
    assert "metaflow" in consumers(inv)
    expected = credentials(inv, "metaflow")
    user_config = json.loads(inv.outputs["metaflowConfig"])
    name = user_config["METAFLOW_KUBERNETES_SECRETS"]
    [env] = [s for s in inv.of_type(SECRET) if s.inputs["metadata"]["name"] == name
             and s.inputs["metadata"]["namespace"] == "metaflow"]
    urns = {r.urn: r for r in inv}
    same = {u for u in expected.property_dependencies["stringData"] if urns[u].type == PASSWORD}
    assert same and same <= set(env.property_dependencies["stringData"])


def test_no_mlflow_credentials_without_basic_auth(dev_plan: Inventory) -> None:
    assert [s for s in dev_plan.of_type(SECRET) if s.inputs["metadata"]["name"] == CREDENTIALS_SECRET] == []
