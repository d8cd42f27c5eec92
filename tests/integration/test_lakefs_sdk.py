"""The real lakefs-sdk (at the server image's version) builds its configuration from the platform's LakeFS
outputs and creates a repository under the generated repository namespace, against a local stand-in that records
the request (path, basic auth, body)."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.data.config import LAKEFS_IMAGE_TAG
from tests.conftest import PROGRAMS, planned

from .services import consumer_python

pytestmark = pytest.mark.integration
CLIENT = Path(__file__).with_name("lakefs_client.py")
KEY_ID, SECRET = "AKIAEXAMPLEEXAMPLE01", "example-secret-access-key-40-characters.."


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Recorder.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        reply = json.dumps({"id": body["name"], "creation_date": 1, "default_branch": body["default_branch"],
                            "storage_namespace": body["storage_namespace"]}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_sdk_builds_the_generated_endpoint_and_creates_a_repository_in_the_namespace() -> None:
    outputs = planned("prod", PROGRAMS / "data_versioning").outputs
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run(
            [str(consumer_python("dvc")), str(CLIENT), outputs["lakefsEndpoint"], outputs["lakefsRepositoryNamespace"],
             f"http://127.0.0.1:{server.server_port}"],
            env={"LAKEFS_ACCESS_KEY_ID": KEY_ID, "LAKEFS_SECRET_ACCESS_KEY": SECRET}, capture_output=True, text=True,
            timeout=120)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["host"] == "http://lakefs.lakefs.svc.cluster.local/api/v1"
    assert result["apis"] == ["RepositoriesApi", "BranchesApi", "ObjectsApi", "CommitsApi"]
    [request] = Recorder.seen
    assert request["path"] == "/api/v1/repositories"
    assert request["auth"] == "Basic " + base64.b64encode(f"{KEY_ID}:{SECRET}".encode()).decode()
    namespace = outputs["lakefsRepositoryNamespace"]
    assert namespace.startswith("s3://mlops-prod-lakefs-blockstore-") and namespace.endswith("/repos")
    assert request["body"]["storage_namespace"] == f"{namespace}/research-data" == result["storageNamespace"]


def test_the_sdk_under_test_matches_the_server_image() -> None:
    version = subprocess.run([str(consumer_python("dvc")), "-c", "import lakefs_sdk; print(lakefs_sdk.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == LAKEFS_IMAGE_TAG
