"""The MLflow users Job's script against a server that refuses the admin login (the admin password drifted:
MLflow 3.14 sets basic_auth.ini's admin_password only when it creates the admin user): it stops at once with a
message naming the cause, instead of a bare `failed <user> 401`."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

from mlops_infra.registry.mlflow_users import USERS_SCRIPT


def _server(status: int) -> tuple[http.server.HTTPServer, list[str]]:
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = b'{"error_code": "UNAUTHENTICATED", "message": "nope"}' if status != 200 else b"{}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PATCH = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def _run(tmp_path: Path, status: int) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    (tmp_path / "research").write_text("pw-research")
    (tmp_path / "airflow").write_text("pw-airflow")
    server, seen = _server(status)
    try:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{server.server_port}",
               "MLFLOW_USERS_DIR": str(tmp_path), "MLFLOW_ADMIN_USERNAME": "admin", "MLFLOW_ADMIN_PASSWORD": "x"}
        done = subprocess.run([sys.executable, "-c", USERS_SCRIPT], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
    finally:
        server.shutdown()
    return done, seen


def test_a_refused_admin_login_stops_the_job_with_its_cause(tmp_path: Path) -> None:
    done, seen = _run(tmp_path, 401)
    assert done.returncode == 2, done
    assert "admin login refused (401)" in done.stdout and "README: MLflow admin password" in done.stdout
    assert len(seen) == 1, seen  # no user after the first is tried with a login that cannot work


def test_an_accepted_admin_login_creates_every_user(tmp_path: Path) -> None:
    done, seen = _run(tmp_path, 200)
    assert done.returncode == 0, done
    assert done.stdout.split() == ["created", "airflow", "created", "research"]
    assert len(seen) == 2
