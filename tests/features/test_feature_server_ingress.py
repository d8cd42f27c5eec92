"""Issue 27 item 14: the feature server admits only the granted namespaces and Prometheus, on the pod's port.

Feast 0.66.0 (the image's version) serves `/push`, `/write-to-online-store` and `/materialize` on the same port as
`/get-online-features`, with no option to turn them off (feast/cli/serve.py), and guards them only with its
permissions under `auth: oidc|kubernetes` (`assert_permissions` is a no-op under `no_auth`). Whoever reaches the
port can write, so the NetworkPolicy decides who that is; judged here with tests/netpol_eval.py on the prod plan.
"""

from __future__ import annotations

import pytest

from mlops_infra.features.feature_server import METRICS_PORT, PORT
from mlops_infra.plan import Inventory
from tests.conftest import planned
from tests.netpol_eval import Pod, Policy, allows, policies_in

SERVER = "mlops-prod-features-server-deployment"


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod")


def server_pod(inv: Inventory) -> Pod:
    deployment = inv.named(SERVER)
    return Pod(deployment.inputs["metadata"]["namespace"], deployment.inputs["spec"]["template"]["metadata"]["labels"])


def test_the_server_listens_on_the_port_the_policy_admits(prod: Inventory) -> None:
    (container,) = prod.named(SERVER).inputs["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [PORT, METRICS_PORT] == [6566, 8000]
    assert "--metrics" in container["command"]  # what makes the server listen on 8000


def server_side(inv: Inventory) -> list[Policy]:
    """The policies of the server's namespace only: the client's egress is not judged (issue 27 item 5 owns that:
    Airflow's egress still names the Service port 80)."""
    return [p for p in policies_in(inv) if p.namespace == server_pod(inv).namespace]


@pytest.mark.parametrize("namespace", ["research", "ranking", "airflow", "monitoring"])
def test_granted_namespaces_and_prometheus_are_admitted(prod: Inventory, namespace: str) -> None:
    assert allows(server_side(prod), Pod(namespace, {"app": "client"}), server_pod(prod), PORT), namespace


@pytest.mark.parametrize("namespace", ["research", "ranking"])
def test_team_pods_reach_the_server_end_to_end(prod: Inventory, namespace: str) -> None:
    assert allows(policies_in(prod), Pod(namespace, {"app": "client"}), server_pod(prod), PORT), namespace


@pytest.mark.parametrize("namespace", ["default", "lakefs", "qdrant", "kserve", "mlflow", "feast"])
def test_other_namespaces_cannot_reach_the_server(prod: Inventory, namespace: str) -> None:
    # Any of these could otherwise POST /push or /write-to-online-store (no_auth admits every caller).
    assert not allows(policies_in(prod), Pod(namespace, {"app": "any"}), server_pod(prod), PORT), namespace


def test_granted_namespaces_reach_only_the_server_port(prod: Inventory) -> None:
    assert not allows(policies_in(prod), Pod("research", {}), server_pod(prod), METRICS_PORT)  # `--metrics`' port


def test_prometheus_reaches_the_metrics_port(prod: Inventory) -> None:
    assert allows(policies_in(prod), Pod("monitoring", {"app.kubernetes.io/name": "prometheus"}), server_pod(prod),
                  METRICS_PORT)
