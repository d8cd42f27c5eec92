"""MLflow, run for real with the command line the platform renders: the tracking-server Deployment of the dev
plan (no in-cluster auth) and of the prod plan (MLflow's basic-auth app, the prod default).

The server container's args and env, and the metrics sidecar's command and env, are taken from the plan and run
with the MLflow the image pins (a virtualenv built by .ci/run: `.venv-mlflow`, or $MLFLOW_PYTHON). What differs
from the pod, and nothing else: the RDS host becomes a local PostgreSQL (Debian, started here) reached with the
rendered user through the rendered PGPASSFILE mechanism, without TLS (`sslmode=require` is dropped: the local
server has no certificate); the artifact bucket (same name) lives on a moto S3 server (MLFLOW_S3_ENDPOINT_URL and
test credentials are added); ports are free local ports; the pod's emptyDir and HOME paths are temporary dirs.
With basic auth, the mounted basic_auth.ini and the Flask secret key come from a Pulumi secret the plan masks:
the test writes the ini with the keys the component renders (mlops_infra/registry/mlflow_server.py `_basic_auth_secret`)
and the local database, and a random key.

The two Jobs of the plan run here too, with their rendered command and env: the schema migration before the
server starts (as the Deployment depends on it), and, with basic auth, the team users Job once the server is up;
its mounted Secret (one file per team, masked in the plan) is written with the plan's team namespaces.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.registry.mlflow_users import CREDENTIALS_SECRET, PASSWORD_ENV, USERNAME_ENV

from .plans import plan
from .services import consumer_python, free_port, moto_server, postgres, psql, wait_http

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).with_name("mlflow_client.py")
MARGIN = 1.15
"""A live measurement on CI must stay this far under the container's limit (the config's own margin, 1.3, is
applied to the committed measurement, mlops_infra/registry/mlflow_memory.json)."""



@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]
    basic_auth: bool
    sidecar_port: int
    s3: str
    bucket: str
    containers: dict[str, dict[str, Any]]
    service: dict[str, Any]
    monitor: dict[str, Any]
    python: Path
    jobs: dict[str, dict[str, Any]]
    """The plan's MLflow Jobs by suffix (`migrate`, `users`): their container and pod volumes."""
    teams: list[str]
    """Namespaces that got an MLflow credentials Secret (from this stack, or delivered to a team workspace)."""
    log: Path
    work: Path


ADMIN = ("admin", "it-admin-password")
PEAK_RSS = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True); sys.exit(code)")
"""Runs argv and prints the largest peak RSS (KiB) of any process it waited for (Linux getrusage)."""
PLANS = ["dev", "prod"]


def _jobs(label: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    inv = plan(label)
    jobs = {}
    for r in inv.of_type("kubernetes:batch/v1:Job"):
        for suffix in ("migrate", "users"):
            if r.name.endswith(f"-mlflow-{suffix}"):
                (container,) = r.inputs["spec"]["template"]["spec"]["containers"]
                jobs[suffix] = container
    teams = [r.inputs["metadata"]["namespace"] for r in inv.of_type("kubernetes:core/v1:Secret")
             if r.inputs["metadata"]["name"] == CREDENTIALS_SECRET]
    # Team workspaces of other stacks: their Secret comes through External Secrets (platform/workspace_credentials.py).
    delivered = (inv.outputs.get("teamWorkspace") or {}).get("credentials") or {}
    return jobs, sorted(teams + [ws for ws, entry in delivered.items() if "mlflowSecret" in entry])


def _rendered(label: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    inv = plan(label)
    (deployment,) = [r for r in inv.of_type("kubernetes:apps/v1:Deployment") if r.name.endswith("-mlflow-deployment")]
    containers = {c["name"]: c for c in deployment.inputs["spec"]["template"]["spec"]["containers"]}
    (service,) = [r.inputs for r in inv.of_type("kubernetes:core/v1:Service") if r.name.endswith("-mlflow-service")]
    (monitor,) = [r.inputs for r in inv.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
                  if r.name.endswith("-mlflow-service-monitor")]
    return containers, service, monitor


def _env(container: dict[str, Any], paths: dict[str, str]) -> dict[str, str]:
    out = {}
    for item in container.get("env", []):
        if "value" not in item:  # from a Secret: the test's stand-in (see the module docstring)
            out[item["name"]] = uuid.uuid4().hex
            continue
        value = str(item["value"])
        for pod_path, local in paths.items():  # one substitution: a local path may itself start with /tmp
            if value == pod_path or value.startswith(f"{pod_path}/"):
                value = local + value[len(pod_path):]
                break
        out[item["name"]] = value
    return out


@pytest.fixture(scope="module", params=PLANS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    python = consumer_python("mlflow")
    containers, service, monitor = _rendered(request.param)
    jobs, teams = _jobs(request.param)
    work = tmp_path_factory.mktemp("mlflow")
    paths = {"/var/run/prometheus": str(work / "prometheus"), "/var/run/pgpass": str(work / "pgpass"),
             "/etc/mlflow-auth": str(work / "auth"), "/tmp": str(work / "home")}
    for p in paths.values():
        Path(p).mkdir()
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres())
        s3 = stack.enter_context(moto_server())
        args = list(containers["mlflow"]["args"])
        backend = urllib.parse.urlsplit(args[args.index("--backend-store-uri") + 1])
        user, database = backend.username or "", backend.path.lstrip("/")
        psql(pg, f"CREATE ROLE {user} LOGIN PASSWORD 'it-secret'")
        psql(pg, f"CREATE DATABASE {database} OWNER {user}")
        (work / "pgpass" / ".pgpass").write_text(f"127.0.0.1:{pg.port}:{database}:{user}:it-secret\n")
        (work / "pgpass" / ".pgpass").chmod(0o600)
        query = urllib.parse.urlencode([q for q in urllib.parse.parse_qsl(backend.query) if q[0] != "sslmode"])
        local_backend = urllib.parse.urlunsplit((backend.scheme, f"{user}@127.0.0.1:{pg.port}", backend.path, query, ""))
        migrate_env = _env(jobs["migrate"], paths)
        assert migrate_env["MLFLOW_BACKEND_STORE_URI"] == args[args.index("--backend-store-uri") + 1]
        args[args.index("--backend-store-uri") + 1] = local_backend
        basic_auth = "basic-auth" in args
        base_env = {"PATH": f"{python.parent}:{os.environ['PATH']}", "LANG": "C.UTF-8"}
        # The migration Job, as the Deployment depends on it: the servers start on a schema at head.
        # Run under a fresh parent that reports its descendants' peak RSS: the Job pod's own memory check.
        migrated = subprocess.run([str(python), "-c", PEAK_RSS, str(python), *jobs["migrate"]["command"][1:]],
                                  cwd=work, capture_output=True, text=True, timeout=300, check=False,
                                  env={**base_env, **migrate_env, "MLFLOW_BACKEND_STORE_URI": local_backend})
        assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-3000:]
        assert migrated.stdout.count("running") == (2 if basic_auth else 1), migrated.stdout
        peak_mib = int(migrated.stdout.split()[-1]) / 1024
        limit = _mib(jobs["migrate"]["resources"]["limits"]["memory"])
        assert peak_mib * MARGIN <= limit, f"migration peak {peak_mib:.0f} MiB vs its limit {limit:.0f} Mi"
        (work / "auth" / "basic_auth.ini").write_text(
            f"[mlflow]\ndefault_permission = READ\ndatabase_uri = {local_backend}\nadmin_username = {ADMIN[0]}\n"
            f"admin_password = {ADMIN[1]}\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
        bucket = urllib.parse.urlsplit(args[args.index("--artifacts-destination") + 1]).netloc
        import boto3

        boto3.client("s3", endpoint_url=s3, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=bucket)
        port, sidecar_port = free_port(), free_port()
        args[args.index("--port") + 1] = str(port)
        args[args.index("--host") + 1] = "127.0.0.1"
        args = [paths.get(a, a) for a in args]
        aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "MLFLOW_S3_ENDPOINT_URL": s3}
        log = stack.enter_context((work / "server.log").open("wb"))
        proc = subprocess.Popen([str(python.with_name("mlflow")), *args], cwd=work,
                                env={**base_env, **_env(containers["mlflow"], paths), **aws},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        stack.callback(_stop, proc)
        sidecar = containers.get("metrics")  # absent: the scrape test says where Prometheus lands instead
        if sidecar is not None:
            sidecar_env = {**_env(sidecar, paths), "METRICS_PORT": str(sidecar_port)}
            exporter = subprocess.Popen([str(python), *sidecar["command"][1:]], env={**base_env, **sidecar_env},
                                        cwd=work, start_new_session=True)
            stack.callback(_stop, exporter)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/health", 180, proc)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{(work / 'server.log').read_text()[-4000:]}") from None
        yield Server(base, proc, basic_auth, sidecar_port, s3, bucket, containers, service, monitor["spec"], python,
                     jobs, teams, work / "server.log", work)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)


def _get(server: Server, path: str, host: str | None = None) -> int:
    headers = {"Host": host} if host else {}
    if server.basic_auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    request = urllib.request.Request(f"{server.base}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_health_answers(server: Server) -> None:
    assert _get(server, "/health") == 200


def test_every_in_cluster_name_clients_use_is_an_allowed_host(server: Server) -> None:
    svc, ns = server.service["metadata"]["name"], server.service["metadata"]["namespace"]
    (http,) = [p for p in server.service["spec"]["ports"] if p["name"] == "http"]
    names = [svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local"]
    api = "/api/2.0/mlflow/experiments/search?max_results=1"
    assert {n: _get(server, api, f"{n}:{http['port']}") for n in names} == dict.fromkeys(names, 200)
    assert _get(server, api, f"attacker.example.com:{http['port']}") in (400, 403), "the Host guard is not on"


def _client(server: Server, *args: str, timeout: float = 300) -> dict[str, Any]:
    env = {**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    if server.basic_auth:
        env |= {"MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}
    result = subprocess.run([str(server.python), str(CLIENT), *args], capture_output=True, text=True,
                            timeout=timeout, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_a_run_with_an_artifact_and_a_model_version(server: Server) -> None:
    out = _client(server, "log", server.base)
    assert out["artifacts"] == ["model/weights.txt"] and out["version"] == "1"
    import boto3

    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=server.s3, region_name="us-east-1",
                                           aws_access_key_id="testing", aws_secret_access_key="testing")
            .list_objects_v2(Bucket=server.bucket).get("Contents", [])]
    assert any(k.startswith("artifacts/") and k.endswith(f"{out['runId']}/artifacts/model/weights.txt") for k in keys), keys


def test_metrics_are_served_where_the_service_monitor_scrapes(server: Server) -> None:
    (endpoint,) = server.monitor["endpoints"]
    (port,) = [p for p in server.service["spec"]["ports"] if p["name"] == endpoint["port"]]
    (container,) = [c for c in server.containers.values()
                    if any(cp.get("name") == port["targetPort"] for cp in c.get("ports", []))]
    assert container["name"] == "metrics", "the scrape reaches the sidecar, not the (possibly authenticated) API"
    assert _get(server, "/api/2.0/mlflow/experiments/search?max_results=1") == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{server.sidecar_port}{endpoint['path']}", timeout=30) as r:
        body = r.read().decode()
    assert re.search(r"^mlflow_http_request_total\{", body, re.M), body[:2000]
    if server.basic_auth:  # why the scrape goes to the sidecar: the API port asks a scraper for credentials
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{server.base}/metrics", timeout=30)
        assert denied.value.code == 401


def _mib(quantity: str) -> float:
    """A Kubernetes memory quantity in MiB (the forms a container resource uses)."""
    units = {"Ki": 2**-10, "Mi": 1, "Gi": 2**10, "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "": 2**-20}
    number, unit = re.fullmatch(r"([0-9.]+)([KMG]i?)?", quantity).groups()  # type: ignore[union-attr]
    return float(number) * units[unit or ""]


def _tree_rss_mib(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 2**20


def _peak(pid: int, seconds: float, during: threading.Thread | None = None) -> float:
    peak, stop = 0.0, time.monotonic() + seconds
    if during:
        during.start()
    while time.monotonic() < stop or (during and during.is_alive()):
        peak = max(peak, _tree_rss_mib(pid))
        time.sleep(0.25)
    return peak


def test_memory_request_and_limit_cover_the_measured_peak(server: Server) -> None:
    """Peak RSS of the whole server process tree (server + uvicorn workers), idle then under a burst of client
    calls (runs, batched metrics, proxied artifact uploads, searches), against the rendered request and limit."""
    idle = _peak(server.proc.pid, 10)
    result: dict[str, Any] = {}
    burst = threading.Thread(target=lambda: result.update(_client(server, "burst", server.base, "20", "6")))
    peak = max(idle, _peak(server.proc.pid, 0, during=burst))
    resources = server.containers["mlflow"]["resources"]
    limit, request = (_mib(resources[k]["memory"]) for k in ("limits", "requests"))
    print(f"mlflow server tree: idle {idle:.0f} MiB, burst peak {peak:.0f} MiB; request {request:.0f} Mi, "
          f"limit {limit:.0f} Mi")
    assert request >= peak * MARGIN and limit >= peak * MARGIN, (idle, peak, resources)
    assert result.get("errors") == [], f"the burst failed, so its peak is not a load peak: {result}"


@pytest.mark.parametrize("label", PLANS)
def test_the_server_under_test_is_the_mlflow_the_image_pins(label: str) -> None:
    containers, _, _ = _rendered(label)
    tag = containers["mlflow"]["image"].rsplit(":", 1)[1]
    version = subprocess.run([str(consumer_python("mlflow")), "-c", "import mlflow; print(mlflow.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == tag, f"MLflow {version} runs here, the pod runs {containers['mlflow']['image']}"


def _run_users_job(server: Server, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The users Job's rendered command and env; its mounted Secret is a directory of one file per team."""
    container = server.jobs["users"]
    (mount,) = container["volumeMounts"]
    users = server.work / f"users-{uuid.uuid4().hex[:6]}"
    users.mkdir()
    for team, password in passwords.items():
        (users / team).write_text(password)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MLFLOW_USERS_DIR"] == mount["mountPath"]
    assert env["MLFLOW_ADMIN_PASSWORD"] is None  # from the `-auth` Secret's admin-password: the ini's admin here
    env |= {"MLFLOW_TRACKING_URI": server.base, "MLFLOW_USERS_DIR": str(users), "MLFLOW_ADMIN_PASSWORD": ADMIN[1],
            "HOME": str(server.work / "home"), "PATH": os.environ["PATH"]}
    return subprocess.run([str(server.python), *container["command"][1:]], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _as(server: Server, user: str | None, password: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    if user is not None and password is not None:
        env |= {USERNAME_ENV: user, PASSWORD_ENV: password}
    return subprocess.run([str(server.python), str(CLIENT), *args], capture_output=True, text=True, timeout=300,
                          env=env, check=False)


def test_each_team_logs_and_registers_with_its_own_mlflow_user(server: Server) -> None:
    """With basic auth (prod): the users Job creates each consumer's user (teams and orchestrators), rerunning it
    updates the password, and each consumer logs a run with an artifact and registers a model version with the
    credentials of its Secret; without credentials, or with the replaced password, the server answers 401."""
    if not server.basic_auth:
        assert "users" not in server.jobs and server.teams == [], "no MLflow users without MLflow's auth"
        return
    assert server.teams, "prod has team namespaces"
    # The Secret keys are the variables the MLflow client reads (mlflow/environment_variables.py, 3.14.0).
    names = subprocess.run([str(server.python), "-c", "from mlflow.environment_variables import "
                            "MLFLOW_TRACKING_USERNAME as u, MLFLOW_TRACKING_PASSWORD as p; print(u.name, p.name)"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert names == [USERNAME_ENV, PASSWORD_ENV]
    first = {t: uuid.uuid4().hex for t in server.teams}
    created = _run_users_job(server, first)
    assert created.returncode == 0 and created.stdout.split().count("created") == len(first), created
    second = {t: uuid.uuid4().hex for t in server.teams}  # a rerun (new password): update, not a failure
    updated = _run_users_job(server, second)
    assert updated.returncode == 0 and updated.stdout.split().count("updated") == len(second), updated
    team = server.teams[0]
    stale = _as(server, team, first[team], "log", server.base, f"{team}-stale", f"{team}-stale-model")
    assert stale.returncode != 0 and "401" in stale.stderr, stale.stderr[-2000:]
    # Every consumer namespace (teams, orchestrators: prod's Airflow, and the team workspace prod lists) logs and
    # registers as its own user.
    assert {"airflow", "research", "ranking", "vision"} <= set(server.teams), server.teams
    for consumer in server.teams:
        done = _as(server, consumer, second[consumer], "log", server.base, f"{consumer}-experiment",
                   f"{consumer}-model")
        assert done.returncode == 0, f"{consumer}: {done.stderr[-3000:]}"
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["artifacts"] == ["model/weights.txt"] and out["version"] == "1", consumer
    anonymous = _as(server, None, None, "log", server.base, f"{team}-anon", f"{team}-anon-model")
    assert anonymous.returncode != 0 and "401" in anonymous.stderr, anonymous.stderr[-2000:]


def test_the_servers_start_on_the_migrated_schema_without_racing(server: Server) -> None:
    """Every server process found the schema the migration Job created: no worker died creating tables."""
    log = server.log.read_text(errors="replace")
    assert "IntegrityError" not in log and "Traceback" not in log, log[-4000:]
