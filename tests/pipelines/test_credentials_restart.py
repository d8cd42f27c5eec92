"""Orchestrator pods roll when `pulumi up` changes the MLflow (or Feast) password they read (issue 27, item 7).

The MLflow users Job sets the password in MLflow; Pulumi writes the new value into the namespace's
`mlflow-credentials` Secret (registry/mlflow_users.py `credentials_secret`, pipelines/wiring_common.py). Pods read
it at container start (`secretKeyRef`/`envFrom`), so long-running readers would keep the stale value. A checksum
annotation would only reach the pod templates Pulumi writes, not the Airflow chart's; the namespace's rotation
restarter (blocks/rotation.py) already rolls the readers of its database Secret, and now also watches the
credentials Secrets: its trigger is the Secret that changes, and its Role may patch the workloads that read it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from mlops_infra.blocks import rotation_restarter as rr
from mlops_infra.blocks.rotation import NAME
from mlops_infra.plan import Inventory, ResourceRecord
from mlops_infra.registry.mlflow_users import CREDENTIALS_SECRET
from tests.blocks.test_rotation import FakeApi
from tests.integration.plans import plan
from tests.nonempty import each

WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")


def _in(record: ResourceRecord, ns: str) -> bool:
    return bool(record.inputs.get("metadata", {}).get("namespace") == ns)


def readers(inv: Inventory, ns: str, secret: str) -> tuple[list[str], list[str]]:
    """Workloads of `ns` whose pod spec references `secret`, and Helm releases of `ns` whose values name it (their
    workloads are the chart's: the Airflow chart's `secret` entries reach every Airflow component)."""
    workloads = [r.inputs["metadata"]["name"] for t in WORKLOADS for r in inv.of_type(t) if _in(r, ns)
                 and secret in rr.referenced_secrets(r.inputs["spec"]["template"]["spec"])]
    releases = [r.name for r in inv.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("namespace") == ns
                and f'"{secret}"' in json.dumps(r.inputs.get("values", {}))]
    return workloads, releases


def restarter(inv: Inventory, ns: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    [dep] = [r for r in inv.of_type("kubernetes:apps/v1:Deployment") if _in(r, ns)
             and r.inputs["metadata"]["name"] == NAME]
    [role] = [r for r in inv.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role") if _in(r, ns)
              and r.inputs["metadata"]["name"] == NAME]
    [container] = dep.inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container["env"]}, role.inputs["rules"]


def test_every_reader_of_an_mlflow_credentials_secret_is_rolled_by_its_namespaces_restarter() -> None:
    inv = plan("variant-pipelines")
    namespaces = sorted({r.inputs["metadata"]["namespace"] for r in inv.of_type("kubernetes:core/v1:Secret")
                         if r.inputs["metadata"].get("name") == CREDENTIALS_SECRET})
    read = {ns: readers(inv, ns, CREDENTIALS_SECRET) for ns in namespaces}
    read = {ns: r for ns, r in read.items() if r[0] or r[1]}
    assert read, "the variant's orchestrators read their mlflow-credentials (MLflow basic auth)"
    for ns, (workloads, _releases) in each(read.items()):
        env, rules = restarter(inv, ns)
        assert CREDENTIALS_SECRET in env["WATCH_SECRETS"].split(","), f"{ns}: the restarter does not watch it"
        get = [r for r in rules if r.get("resources") == ["secrets"]]
        assert get and all(CREDENTIALS_SECRET in r["resourceNames"] for r in get), f"{ns}: may not read it"
        [patch] = [r for r in rules if "patch" in r["verbs"]]
        names = patch.get("resourceNames")  # absent: every workload of the namespace
        assert names is None or set(workloads) <= set(names), f"{ns}: may not patch {workloads}"
        allowed = env.get("WATCH_WORKLOADS", "")
        assert not allowed or set(workloads) <= set(allowed.split(",")), ns


@pytest.fixture
def fake_api() -> Iterator[tuple[FakeApi, rr.Api]]:
    fake = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake, rr.Api.in_cluster({"KUBERNETES_API_URL": f"http://127.0.0.1:{server.server_port}"})
    finally:
        server.shutdown()


def test_a_changed_mlflow_password_rolls_the_readers_the_restarter_watches(fake_api: tuple[FakeApi, rr.Api]) -> None:
    """The restarter's own code, with the planned WATCH_SECRETS of the Airflow namespace: after the Secret's
    password changes, the workload reading it is patched, and one that does not read it is not."""
    fake, client = fake_api
    env, _ = restarter(plan("variant-pipelines"), "airflow")
    watched = env["WATCH_SECRETS"].split(",")
    reader = {"containers": [{"env": [{"name": "MLFLOW_TRACKING_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": CREDENTIALS_SECRET, "key": "MLFLOW_TRACKING_PASSWORD"}}}]}]}
    fake.workloads["deployments"] = [
        {"metadata": {"name": "scheduler", "annotations": {}}, "spec": {"template": {"metadata": {}, "spec": reader}}},
        {"metadata": {"name": "other", "annotations": {}}, "spec": {"template": {"metadata": {}, "spec": {
            "containers": [{}]}}}}]
    fake.secrets[CREDENTIALS_SECRET] = {"MLFLOW_TRACKING_PASSWORD": "b2xk"}
    assert rr.run_once(client, "airflow", watched) == []  # first sight: recorded only
    fake.patches.clear()
    fake.secrets[CREDENTIALS_SECRET] = {"MLFLOW_TRACKING_PASSWORD": "bmV3"}
    assert rr.run_once(client, "airflow", watched) == ["deployments/scheduler"]
    assert [n for _, n, _ in fake.patches] == ["scheduler"]
