"""Password rotation under a running engine (issue 28, item 19): the Prefect server keeps working across a rotated
RDS master password, with a real PostgreSQL 15 (TLS on, scram passwords) and the real Prefect server at the version
its image runs (`.venv-prefect`, .ci/venvs/prefect.sh).

What is real: the Prefect server (`prefect server start` with the rendered container's args and env, the database URL
resolved from its `secretKeyRef`), PostgreSQL, the password change, and the restarter's code (the file its ConfigMap
ships) making its HTTP calls. What is emulated, and how:
- RDS's rotation: `ALTER ROLE ... PASSWORD` (single-user rotation: the old password stops working at once), then the
  server's connections are ended (`pg_terminate_backend`), as a pool recycle or a failover ends them;
- External Secrets: the ExternalSecret's template is rendered with the new password (`urlquery` = Go's
  url.QueryEscape) and the RDS address replaced by the local server's;
- the Kubernetes API: a stand-in server (tests/blocks/test_rotation.py) holding the Secret and the rendered
  Deployment; the kubelet: the test restarts the server process when the restarter has patched the pod template,
  resolving the env again from the Secret (as a new pod does). The image's entrypoint (tini, entrypoint.sh) is not
  run, and the UI is off.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.blocks import rotation_restarter as rr
from mlops_infra.blocks.rotation import NAME, SOURCE
from mlops_infra.pipelines.prefect import DB_SECRET, SERVER
from tests.blocks.test_rotation import FakeApi
from tests.conftest import ROOT, planned

from .services import consumer_python, free_port, postgres, psql, wait_http

pytestmark = pytest.mark.integration
VARIANTS = ROOT / "tests" / "integration" / "variants"
NAMESPACE = "prefect"
# Characters a URL must escape; RDS never generates `/`, `'`, `"`, `@` or a space (its master password rules), and
# a space would not survive anyway: `urlquery` writes it as `+`, which SQLAlchemy's URL parser does not decode.
BEFORE, AFTER = "first:Pass%word#1", "second?Pass&word+2="


def rendered() -> tuple[dict[str, Any], dict[str, Any], str]:
    """The rendered prefect-server Deployment, the ExternalSecret writing its database Secret, and the code the
    restarter's ConfigMap ships in that namespace."""
    inv = planned("pipelines", VARIANTS, render=True)
    objs = [r.inputs for r in inv.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind")]
    [dep] = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == SERVER
             and any(c.get("args") for c in o["spec"]["template"]["spec"]["containers"])]
    [es] = [o for o in objs if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == DB_SECRET]
    [code] = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"{NAME}-code"
              and o["metadata"]["namespace"] == NAMESPACE]
    return dep, es, code["data"][SOURCE.name]


def external_secrets_render(template: dict[str, str], username: str, password: str, port: int) -> dict[str, str]:
    """What External Secrets writes (base64 data): the template's `urlquery` fields filled, RDS -> local server."""
    out = {}
    for key, text in template.items():
        text = text.replace("{{ .username | urlquery }}", urllib.parse.quote_plus(username))
        text = text.replace("{{ .password | urlquery }}", urllib.parse.quote_plus(password))
        text = re.sub(r"@[^:/]+:\d+/", f"@127.0.0.1:{port}/", text)
        assert "{{" not in text, text
        out[key] = base64.b64encode(text.encode()).decode()
    return out


class Kubelet:
    """Runs the Deployment's server container as a local process; `sync` restarts it when the template changed."""

    def __init__(self, api: FakeApi, python: Path, home: Path) -> None:
        self.api, self.python, self.home = api, python, home
        self.proc: subprocess.Popen[bytes] | None = None
        self.template = ""
        self.url = ""

    def _env(self, container: dict[str, Any], port: int) -> dict[str, str]:
        env = {}
        for e in container["env"]:
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            env[e["name"]] = base64.b64decode(self.api.secrets[ref["name"]][ref["key"]]).decode() if ref else e["value"]
        assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
        # Local stand-ins for the pod's mounts and address; the UI is off (nothing here serves it).
        return {**env, "HOME": str(self.home), "PREFECT_HOME": str(self.home / ".prefect"),
                "PREFECT_UI_STATIC_DIRECTORY": str(self.home / "ui"), "PREFECT_SERVER_API_HOST": "127.0.0.1",
                "PREFECT_SERVER_API_PORT": str(port), "PREFECT_SERVER_UI_ENABLED": "false",
                "PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                "PATH": "/usr/bin:/bin"}

    def sync(self) -> bool:
        """Start or restart the pod if its template changed; returns whether it did."""
        [dep] = self.api.workloads["deployments"]
        template = json.dumps(dep["spec"]["template"], sort_keys=True)
        if template == self.template:
            return False
        self.stop()
        [container] = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == SERVER]
        port = free_port()
        args = [a if a != "4200" else str(port) for a in container["args"]]
        assert args[:3] == ["prefect", "server", "start"], args
        self.proc = subprocess.Popen([str(self.python), "-m", *args], env=self._env(container, port), cwd=self.home,
                                     stdout=subprocess.DEVNULL, stderr=(self.home / "server.log").open("ab"))
        self.url, self.template = f"http://127.0.0.1:{port}/api", template
        wait_http(f"{self.url}/health", 240, self.proc)
        return True

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
            self.proc = None

    def post(self, path: str, body: dict[str, Any]) -> int:
        request = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)


@contextlib.contextmanager
def api_server(fake: FakeApi) -> Iterator[rr.Api]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield rr.Api.in_cluster({"KUBERNETES_API_URL": f"http://127.0.0.1:{server.server_port}"})
    finally:
        server.shutdown()


@pytest.mark.charts("prefect-server")  # reads the rendered prefect-server Deployment
def test_prefect_keeps_working_across_a_rotated_rds_password(tmp_path: Path) -> None:
    dep, es, code = rendered()
    assert code == SOURCE.read_text()  # the restarter run here is the code the cluster gets
    template = es["spec"]["target"]["template"]["data"]
    fake = FakeApi()
    fake.workloads["deployments"] = [json.loads(json.dumps(dep))]
    with postgres(tls=True) as pg, api_server(fake) as client:
        psql(pg, f"CREATE ROLE prefect LOGIN PASSWORD '{BEFORE}'")
        psql(pg, "CREATE DATABASE prefect OWNER prefect")
        fake.secrets[DB_SECRET] = external_secrets_render(template, "prefect", BEFORE, pg.port)
        kubelet = Kubelet(fake, consumer_python("prefect"), tmp_path)
        try:
            assert kubelet.sync()
            assert kubelet.post("/work_pools/", {"name": "before-rotation", "type": "process"}) == 201
            assert rr.run_once(client, NAMESPACE, [DB_SECRET]) == []  # first sight: recorded, no restart

            psql(pg, f"ALTER ROLE prefect PASSWORD '{AFTER}'")  # RDS rotates the master password
            psql(pg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'prefect'")
            failing = kubelet.post("/work_pools/filter", {})
            assert failing >= 500, f"the server still reached the database with the old password ({failing})"
            assert rr.run_once(client, NAMESPACE, [DB_SECRET]) == []  # External Secrets has not refreshed yet

            fake.secrets[DB_SECRET] = external_secrets_render(template, "prefect", AFTER, pg.port)  # its refresh
            assert rr.run_once(client, NAMESPACE, [DB_SECRET]) == [f"deployments/{SERVER}"]
            assert kubelet.sync(), "the restarter did not change the pod template"
            assert kubelet.post("/work_pools/filter", {}) == 200
            assert kubelet.post("/work_pools/", {"name": "after-rotation", "type": "process"}) == 201
            assert rr.run_once(client, NAMESPACE, [DB_SECRET]) == [] and not kubelet.sync()  # settled
        finally:
            kubelet.stop()
