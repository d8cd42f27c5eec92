"""The rotation block (blocks/rotation.py): the restarter's logic, its HTTP calls against a stand-in API server, and
the wiring of every engine whose pods read an RDS-managed password once (LakeFS, Airflow, KFP, Metaflow, Prefect).

The wiring is judged on what the cluster would receive: for every ExternalSecret that renders an RDS master secret,
the restarter of its namespace watches the Secret, may read it, and the rendered workloads that read the Secret are
the ones the restarter's own `referenced_secrets` finds (charts rendered from the chart store; Airflow's chart is not
in the store, so for Airflow the chart value that names the Secret is checked instead).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.blocks import rotation_restarter as rr
from mlops_infra.blocks.rotation import NAME, POLL_SECONDS, REFRESH_INTERVAL
from mlops_infra.plan import Inventory
from tests.conftest import KFP_BASES, PROGRAMS, ROOT, planned
from tests.nonempty import each
from tests.pipelines import airflow_chart

VARIANTS = ROOT / "tests" / "integration" / "variants"
RELEASE = "kubernetes:helm.sh/v3:Release"


def deployment(name: str, pod: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": annotations or {}}, "spec": {"template": {"spec": pod}}}


# --- the restarter's logic --------------------------------------------------------------------------------------------

def test_every_way_a_pod_reads_a_secret_is_found() -> None:
    pod = {"initContainers": [{"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "init-env", "key": "k"}}}]}],
           "containers": [{"env": [{"name": "B", "value": "plain"},
                                   {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
                           "envFrom": [{"secretRef": {"name": "env-from"}}, {"configMapRef": {"name": "cm2"}}]}],
           "volumes": [{"name": "v", "secret": {"secretName": "volume"}},
                       {"name": "p", "projected": {"sources": [{"secret": {"name": "projected"}},
                                                               {"configMap": {"name": "cm3"}}]}}]}
    assert rr.referenced_secrets(pod) == {"init-env", "env-from", "volume", "projected"}
    assert rr.referenced_secrets({"containers": [{"name": "x"}]}) == set()


def test_first_sight_records_a_change_restarts_and_an_unrelated_workload_is_left_alone() -> None:
    pod = {"containers": [{"env": [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}]}]}
    before, after = {"db": {"url": "b2xk"}}, {"db": {"url": "bmV3"}}
    first = rr.plan_patch(deployment("app", pod), before, "t1")
    assert first == {"metadata": {"annotations": {rr.DIGEST_ANNOTATION: rr.digest(before)}}}  # no template change
    seen = deployment("app", pod, first["metadata"]["annotations"])
    assert rr.plan_patch(seen, before, "t2") is None
    changed = rr.plan_patch(seen, after, "t3")
    assert changed == {"metadata": {"annotations": {rr.DIGEST_ANNOTATION: rr.digest(after)}},
                       "spec": {"template": {"metadata": {"annotations": {rr.RESTARTED_ANNOTATION: "t3"}}}}}
    assert rr.plan_patch(deployment("other", {"containers": [{"name": "x"}]}), after, "t4") is None
    assert rr.digest(before) != rr.digest(after) and "b2xk" not in rr.digest(before)


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 JSON merge patch, in place (what the API server applies for `application/merge-patch+json`)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = json.loads(json.dumps(value))


class FakeApi:
    """A stand-in for the few Kubernetes API calls the restarter makes (GET secret, LIST, PATCH merge-patch)."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, str]] = {}
        self.workloads: dict[str, list[dict[str, Any]]] = {"deployments": [], "statefulsets": []}
        self.patches: list[tuple[str, str, dict[str, Any]]] = []
        self.auth: list[str | None] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                api.auth.append(self.headers.get("Authorization"))
                parts = self.path.strip("/").split("/")
                if parts[:2] == ["api", "v1"] and parts[4] == "secrets":
                    found = api.secrets.get(parts[5])
                    self._send(200 if found is not None else 404, {"data": found} if found is not None else {})
                else:  # /apis/apps/v1/namespaces/<ns>/<kind>
                    self._send(200, {"items": api.workloads[parts[5]]})

            def do_PATCH(self) -> None:
                assert self.headers["Content-Type"] == "application/merge-patch+json"
                parts = self.path.strip("/").split("/")
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.patches.append((parts[5], parts[6], body))
                for item in api.workloads[parts[5]]:
                    if item["metadata"]["name"] == parts[6]:
                        merge_patch(item, body)
                self._send(200, {})

        return Handler


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, rr.Api]]:
    fake = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, rr.Api.in_cluster({"KUBERNETES_API_URL": f"http://127.0.0.1:{server.server_port}"})
    finally:
        server.shutdown()


def test_a_pass_over_http_rolls_only_the_readers_of_a_changed_secret(api: tuple[FakeApi, rr.Api]) -> None:
    fake, client = api
    reader = {"containers": [{"envFrom": [{"secretRef": {"name": "db"}}]}]}
    fake.workloads["deployments"] = [deployment("server", reader), deployment("worker", {"containers": [{}]})]
    fake.workloads["statefulsets"] = [deployment("triggerer", reader)]
    assert rr.run_once(client, "ns", ["db", "not-synced-yet"]) == []  # first pass: digests recorded only
    assert [(k, n) for k, n, _ in fake.patches] == [("deployments", "server"), ("statefulsets", "triggerer")]
    assert rr.run_once(client, "ns", ["db"]) == []  # unchanged
    fake.secrets["db"] = {"url": "cm90YXRlZA=="}  # External Secrets rewrote it after a rotation
    assert rr.run_once(client, "ns", ["db"]) == ["deployments/server", "statefulsets/triggerer"]
    assert all("spec" in body for _, _, body in each(fake.patches[-2:]))
    [server] = fake.workloads["deployments"][:1]
    assert server["spec"]["template"]["metadata"]["annotations"][rr.RESTARTED_ANNOTATION]  # the pods roll
    assert server["spec"]["template"]["spec"] == reader  # nothing else changed


def test_every_pass_sends_the_token_now_on_disk(tmp_path: Path) -> None:
    """The kubelet rewrites the projected token; EKS rejects one older than 90 days, so each call re-reads it."""
    token = tmp_path / "token"
    token.write_text("first\n")
    fake = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = rr.Api.in_cluster({"KUBERNETES_API_URL": f"http://127.0.0.1:{server.server_port}",
                                    "KUBERNETES_TOKEN_FILE": str(token)})
        rr.run_once(client, "ns", ["db"])
        token.write_text("rotated\n")
        rr.run_once(client, "ns", ["db"])
    finally:
        server.shutdown()
    assert fake.auth, "no call reached the stand-in API server"
    half = len(fake.auth) // 2
    assert fake.auth[:half] == ["Bearer first"] * half and fake.auth[half:] == ["Bearer rotated"] * half


# --- every engine's pods are wired ------------------------------------------------------------------------------------

def kube(inv: Inventory, kind: str) -> list[dict[str, Any]]:
    return [r.inputs for r in inv.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind") == kind]


def rds_external_secrets(inv: Inventory) -> list[dict[str, Any]]:
    """ExternalSecrets that render an RDS-managed master secret (`rds!` is RDS's secret name prefix)."""
    return [es for es in kube(inv, "ExternalSecret")
            if any(":secret:rds!" in str(d.get("extract", {}).get("key", "")) for d in es["spec"].get("dataFrom", []))]


def restarter(inv: Inventory, namespace: str) -> tuple[set[str], set[str]]:
    """(Secrets the namespace's restarter watches, Secrets its Role may read)."""
    [dep] = [d for d in kube(inv, "Deployment")
             if d["metadata"]["name"] == NAME and d["metadata"]["namespace"] == namespace]
    env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    [role] = [r for r in kube(inv, "Role") if r["metadata"]["name"] == NAME and r["metadata"]["namespace"] == namespace]
    readable = {n for rule in role["rules"] if rule["resources"] == ["secrets"] and "get" in rule["verbs"]
                for n in rule["resourceNames"]}
    assert {"list", "patch"} <= {v for rule in role["rules"] if "deployments" in rule["resources"] for v in rule["verbs"]}
    return set(str(env["WATCH_SECRETS"]).split(",")), readable


def consumers(inv: Inventory, namespace: str, secret: str) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for kind in ("Deployment", "StatefulSet") for o in kube(inv, kind)
            if o["metadata"].get("namespace") == namespace
            and secret in rr.referenced_secrets(o["spec"]["template"]["spec"])]


ENGINES = {"kubeflow": {"ml-pipeline", "metadata-grpc-deployment"}, "metaflow": {"metaflow-service"},
           "prefect": {"prefect-server"}}


@pytest.mark.charts(KFP_BASES, "metaflow-service", "prefect-server", "lakefs")
@pytest.mark.parametrize(("label", "expected"), [("pipelines", ENGINES), ("lakefs", {"lakefs": {"lakefs"}})])
def test_every_rendered_reader_of_an_rds_password_is_rolled_by_its_namespace_restarter(
        label: str, expected: dict[str, set[str]]) -> None:
    inv = planned("pipelines", VARIANTS, render=True) if label == "pipelines" else \
        planned("prod", PROGRAMS / "data_versioning", render=True)
    secrets = rds_external_secrets(inv)
    assert secrets, "no ExternalSecret renders an RDS password"
    seen: dict[str, set[str]] = {}
    for es in secrets:
        ns, target = es["metadata"]["namespace"], es["spec"]["target"]["name"]
        assert es["spec"]["refreshInterval"] == REFRESH_INTERVAL, (ns, target)
        watched, readable = restarter(inv, ns)
        assert target in watched and target in readable, (ns, target)
        readers = consumers(inv, ns, target)
        seen.setdefault(ns, set()).update(r.split("/", 1)[1] for r in readers)
    for ns, workloads in each(expected.items()):
        assert workloads <= seen.get(ns, set()), (ns, seen.get(ns))


def patchable(inv: Inventory, namespace: str) -> set[str]:
    """The workloads the namespace's restarter may patch (its Role's `patch` rule `resourceNames`)."""
    [role] = [r for r in kube(inv, "Role") if r["metadata"]["name"] == NAME and r["metadata"]["namespace"] == namespace]
    [rule] = [rule for rule in role["rules"] if "patch" in rule["verbs"]]
    assert rule.get("resourceNames"), f"{namespace}: the restarter may patch every workload"
    return set(rule["resourceNames"])


@pytest.mark.charts(KFP_BASES, "metaflow-service", "prefect-server", "lakefs")
@pytest.mark.parametrize("label", ["pipelines", "lakefs"])
def test_each_restarter_may_patch_exactly_the_rendered_readers_of_its_secrets(label: str) -> None:
    """#28 (review): the engines' restarters could patch any workload of their namespace."""
    inv = planned("pipelines", VARIANTS, render=True) if label == "pipelines" else \
        planned("prod", PROGRAMS / "data_versioning", render=True)
    readers: dict[str, set[str]] = {}
    for es in rds_external_secrets(inv):
        ns = es["metadata"]["namespace"]
        watched, _ = restarter(inv, ns)
        readers.setdefault(ns, set()).update(r.split("/", 1)[1] for s in watched for r in consumers(inv, ns, s))
    rendered = {ns for ns in readers if ns != "airflow"}  # the Airflow chart is not in the store (next test)
    assert rendered, "no rendered namespace reads an RDS password"
    for ns in rendered:
        assert readers[ns] and patchable(inv, ns) == readers[ns], ns


def test_airflows_restarter_may_patch_the_chart_workloads_that_read_its_connection() -> None:
    """The chart (1.19.0) cannot be rendered here: its workloads are `<release>-<component>` (`airflow.fullname`),
    the components those of tests/pipelines/airflow_chart.py that run as Deployments or StatefulSets (not the task
    pod template, the migration Job, the cleanup CronJob or statsd, which reads no database)."""
    inv = planned("prod")
    [release] = [r.inputs for r in inv.of_type(RELEASE) if str(r.inputs.get("chart", "")).endswith("airflow")]
    long_running = set(airflow_chart.pods(release["values"])) - {"worker", "run-airflow-migrations",
                                                                   "airflow-cleanup-pods", "statsd"}
    assert long_running
    assert patchable(inv, release["namespace"]) == {f"{release['name']}-{c}" for c in long_running}


def test_airflow_reads_its_connection_from_the_watched_secret() -> None:
    """The airflow chart (1.19.0) is not in the chart store: its pods read `data.metadataSecretName`
    (chart/templates/_helpers.yaml: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN from that Secret's `connection`)."""
    inv = planned("prod")
    [release] = [r.inputs for r in inv.of_type(RELEASE) if str(r.inputs.get("chart", "")).endswith("airflow")]
    ns, secret = release["namespace"], release["values"]["data"]["metadataSecretName"]
    assert secret in {es["spec"]["target"]["name"] for es in rds_external_secrets(inv)
                      if es["metadata"]["namespace"] == ns}
    watched, readable = restarter(inv, ns)
    assert secret in watched and secret in readable


def test_the_restarter_reaches_only_the_api_server_and_runs_restricted() -> None:
    inv = planned("prod", PROGRAMS / "data_versioning")
    [policy] = [p for p in kube(inv, "NetworkPolicy") if p["metadata"]["name"] == f"{NAME}-egress"]
    [dep] = [d for d in kube(inv, "Deployment") if d["metadata"]["name"] == NAME]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in each(policy["spec"]["podSelector"]["matchLabels"].items()))
    assert policy["spec"]["policyTypes"] == ["Egress"]
    [rule] = policy["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    assert {p["ipBlock"]["cidr"] for p in rule["to"]} <= {"10.100.0.1/32", "172.20.0.1/32"}
    pod = dep["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_liveness_probe_passes_on_a_fresh_heartbeat_fails_on_a_stale_or_missing_one(tmp_path: Path) -> None:
    """The rendered exec probe, run as the kubelet would (its command, the container's env): no Python start."""
    inv = planned("prod", PROGRAMS / "data_versioning")
    [dep] = [d for d in kube(inv, "Deployment") if d["metadata"]["name"] == NAME]
    [container] = dep["spec"]["template"]["spec"]["containers"]
    probe = container["livenessProbe"]
    assert probe["timeoutSeconds"] >= 10
    command = probe["exec"]["command"]
    assert "python" not in command[0]
    heartbeat = tmp_path / "heartbeat"
    env = {"PATH": os.environ["PATH"], "HEARTBEAT_FILE": str(heartbeat)}

    def alive() -> bool:
        return subprocess.run(command, env=env, capture_output=True, timeout=10, check=False).returncode == 0

    assert not alive()  # no pass finished yet
    heartbeat.write_text("now")
    assert alive()
    old = time.time() - POLL_SECONDS * 5 - 60
    os.utime(heartbeat, (old, old))
    assert not alive()


@pytest.mark.charts("lakefs")
def test_lakefs_restarter_may_patch_only_the_rendered_readers_and_list_all() -> None:
    inv = planned("prod", PROGRAMS / "data_versioning", render=True)
    [role] = [r for r in kube(inv, "Role") if r["metadata"]["name"] == NAME]
    ns = role["metadata"]["namespace"]
    [patch] = [r for r in role["rules"] if "patch" in r["verbs"]]
    [listing] = [r for r in role["rules"] if "list" in r["verbs"]]
    assert "resourceNames" not in listing
    [es] = [e for e in rds_external_secrets(inv) if e["metadata"]["namespace"] == ns]
    readers = {r.split("/", 1)[1] for r in consumers(inv, ns, es["spec"]["target"]["name"])}
    assert readers, "no rendered workload reads the LakeFS secret"
    assert set(patch["resourceNames"]) == readers


def test_a_reader_outside_the_allowed_names_is_not_patched(api: tuple[FakeApi, rr.Api]) -> None:
    fake, client = api
    reader = {"containers": [{"envFrom": [{"secretRef": {"name": "db"}}]}]}
    fake.workloads["deployments"] = [deployment("server", reader), deployment("stranger", reader)]
    rr.run_once(client, "ns", ["db"], frozenset({"server"}))
    assert [n for _, n, _ in fake.patches] == ["server"]
