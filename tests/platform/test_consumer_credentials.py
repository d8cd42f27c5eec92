"""Consumers of MLflow and of Feast's SQL registry can use what they are handed (tests/programs/creds variants):
- every namespace holding a `feast-credentials` login reaches the registry database on 5432 (team pods under the
  exfiltration guards, orchestrator task pods under their engine's egress policy), judged by tests/netpol_eval.py;
- orchestrators get MLflow's in-cluster Service URL, never the ingress host (no DNS record of ours; oauth2-proxy
  in front with auth oidc), and with basic auth the credentials for it;
- an orchestrator in a team namespace shares that namespace's Secrets (one `mlflow-credentials`, one
  `feast-credentials`), and prod's in-cluster auth with an oidc ingress is refused while namespaces log runs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from mlops_infra.config import ConfigError
from mlops_infra.features.feature_store_consumers import CREDENTIALS_SECRET as FEAST_SECRET
from mlops_infra.plan import Inventory, ResourceRecord
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.registry.mlflow_users import CREDENTIALS_SECRET as MLFLOW_SECRET
from mlops_infra.registry.mlflow_users import PASSWORD_ENV, USERNAME_ENV
from tests import netpol_eval
from tests.conftest import PROD_API_ACCESS, PROGRAMS, planned
from tests.netpol_eval import Ip, Pod
from tests.nonempty import each

PROGRAM = PROGRAMS / "creds"
SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
# An Airflow 3 KubernetesExecutor task pod (airflow/providers/cncf/kubernetes pod_generator labels).
AIRFLOW_TASK = {"kubernetes_executor": "True", "dag_id": "train"}


def secrets_named(inv: Inventory, name: str) -> list[ResourceRecord]:
    return [s for s in inv.of_type(SECRET) if s.inputs["metadata"]["name"] == name]


def registry_db_addresses(inv: Inventory) -> list[str]:
    """An address in each subnet of the Feast registry database's subnet group (where RDS places the instance)."""
    [db] = [r for r in inv.of_type("aws:rds/instance:Instance") if "-features-registry" in r.name]
    [group] = [g for g in inv.of_type("aws:rds/subnetGroup:SubnetGroup")
               if g.urn in db.property_dependencies.get("dbSubnetGroupName", [])]
    subnets = [s for s in inv.of_type("aws:ec2/subnet:Subnet") if s.id in group.inputs["subnetIds"]]
    assert subnets, "the registry's subnet group names no subnet of the plan"
    return [str(next(ipaddress.ip_network(s.inputs["cidrBlock"]).hosts())) for s in subnets]


def login_pods(inv: Inventory) -> Iterator[Pod]:
    for secret in secrets_named(inv, FEAST_SECRET):
        ns = secret.inputs["metadata"]["namespace"]
        yield Pod(ns, AIRFLOW_TASK if ns == "airflow" else {"job": "train"})


@pytest.mark.parametrize("stack", ["allsql", "prodsql"])
def test_every_registry_login_reaches_the_registry_database(stack: str) -> None:
    inv = planned(stack, PROGRAM)
    policies = netpol_eval.policies_in(inv)
    pods = list(login_pods(inv))
    assert {p.namespace for p in pods} >= {"research", "airflow"}
    addresses = registry_db_addresses(inv)
    # Egress-isolated: the engines' task pods always, the teams' under the exfiltration guards (prod).
    isolated = [p for p in pods if not netpol_eval.allows(policies, p, Ip("1.1.1.1"), 443)]
    assert {p.namespace for p in isolated} >= ({"research", "airflow"} if stack == "prodsql" else {"airflow"})
    for pod in each(pods):
        for address in addresses:
            assert netpol_eval.allows(policies, pod, Ip(address), 5432), f"{pod.namespace} -> {address}:5432"
            if pod in isolated:
                assert not netpol_eval.allows(policies, pod, Ip(address), 5433), f"{pod.namespace}: not only 5432"


def _values_env(values: Any) -> Iterator[dict[str, Any]]:
    if isinstance(values, dict):
        if "name" in values and "value" in values:
            yield values
        for v in values.values():
            yield from _values_env(v)
    elif isinstance(values, list):
        for v in values:
            yield from _values_env(v)


def _mlflow_uri(inv: Inventory) -> str:
    [release] = [r for r in inv.of_type(RELEASE) if r.name.endswith("-airflow-release")]
    uris = {e["value"] for e in _values_env(release.inputs["values"]) if e["name"] == "MLFLOW_TRACKING_URI"}
    assert len(uris) == 1, uris
    return str(uris.pop())


@pytest.mark.parametrize("stack", ["oidcing", "basicing"])
def test_orchestrators_get_the_in_cluster_tracking_url_with_an_ingress(stack: str) -> None:
    inv = planned(stack, PROGRAM)
    uri = urlparse(_mlflow_uri(inv))
    assert uri.scheme == "http" and uri.hostname is not None and uri.port is not None, uri
    service, namespace, *rest = uri.hostname.split(".")
    assert rest == ["svc", "cluster", "local"]
    [svc] = [s for s in inv.of_type("kubernetes:core/v1:Service")
             if (s.inputs["metadata"]["name"], s.inputs["metadata"]["namespace"]) == (service, namespace)]
    assert uri.port in [p["port"] for p in svc.inputs["spec"]["ports"]]
    assert inv.outputs["mlflowTrackingUri"] == uri.geturl()
    # Airflow's task pods may open it (the server's ingress policy and the engine's egress policy).
    [deployment] = [d for d in inv.of_type("kubernetes:apps/v1:Deployment") if d.name.endswith("-mlflow-deployment")]
    server = Pod(namespace, deployment.inputs["spec"]["template"]["metadata"]["labels"])
    target = next(p.get("targetPort", uri.port) for p in svc.inputs["spec"]["ports"] if p["port"] == uri.port)
    if not isinstance(target, int):  # a named container port
        [target] = [p["containerPort"] for c in deployment.inputs["spec"]["template"]["spec"]["containers"]
                    for p in c.get("ports", []) if p.get("name") == target]
    assert netpol_eval.allows(netpol_eval.policies_in(inv), Pod("airflow", AIRFLOW_TASK), server, target)


def test_basic_auth_ingress_still_hands_orchestrators_their_login() -> None:
    inv = planned("basicing", PROGRAM)
    [secret] = [s for s in secrets_named(inv, MLFLOW_SECRET) if s.inputs["metadata"]["namespace"] == "airflow"]
    [release] = [r for r in inv.of_type(RELEASE) if r.name.endswith("-airflow-release")]
    reads = {(e["envName"], e["secretName"]) for e in release.inputs["values"].get("secret", [])}
    assert reads >= {(USERNAME_ENV, MLFLOW_SECRET), (PASSWORD_ENV, MLFLOW_SECRET)}
    assert secret.property_dependencies["stringData"], "the Secret holds no generated password"


def test_an_orchestrator_in_a_team_namespace_shares_its_secrets() -> None:
    inv = planned("clash", PROGRAM)
    for name in (MLFLOW_SECRET, FEAST_SECRET):
        found = [s for s in secrets_named(inv, name) if s.inputs["metadata"]["namespace"] == "research"]
        assert len(found) == 1, f"research/{name}: {len(found)} Secrets"
    [release] = [r for r in inv.of_type(RELEASE) if r.name.endswith("-airflow-release")]
    reads = {(e["envName"], e["secretName"]) for e in release.inputs["values"].get("secret", [])}
    assert (USERNAME_ENV, MLFLOW_SECRET) in reads and any(s == FEAST_SECRET for _, s in reads)


OIDC_INGRESS = {"enabled": True, "host": "mlflow.example.com", "auth": "oidc",
                "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123",
                "oidcIssuerUrl": "https://login.example.com", "oidcClientId": "mlflow", "oidcClientSecret": "k"}


def _prod(teams: list[dict[str, Any]], in_cluster_auth: bool | None = None) -> dict[str, Any]:
    registry: dict[str, Any] = {"ingress": OIDC_INGRESS}
    if in_cluster_auth is not None:
        registry["inClusterAuth"] = in_cluster_auth
    return {"environment": "prod", "name": "mlops", "region": "us-east-1",
            "tags": {"owner": "ml", "costCenter": "cc-1"},
            "cluster": {"loadBalancerController": True, "teams": teams, **PROD_API_ACCESS},
            "securityBaseline": {"deployerRoleArns": ["arn:aws:iam::123456789012:role/platform-deployer"]},
            "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}}, "modelRegistry": registry}


def test_in_cluster_auth_behind_oidc_is_refused_while_namespaces_log_runs() -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config(_prod([{"name": "research", "gpuQuota": 1}]))
    assert [p for p in info.value.problems if p.startswith("modelRegistry.inClusterAuth:")
            and "research" in p], info.value.problems
    load_platform_config(_prod([{"name": "research", "gpuQuota": 1}], in_cluster_auth=False))
    load_platform_config(_prod([]))  # nobody logs runs: the loopback-only server is fine
