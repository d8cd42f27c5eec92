"""A stand-in Qdrant node for tests/integration/test_qdrant.py, run with .venv-qdrant's interpreter.

Why a stand-in: qdrant-client's local mode (`QdrantClient(path=...)`, qdrant_client/local/qdrant_local.py at 1.19.1)
has no snapshot API (`create_snapshot` raises NotImplementedError "Snapshots are not supported in the local
Qdrant"), and no Qdrant server binary installs from the registries CI reaches.

What is real: the collections and points live in a real local-mode Qdrant (qdrant-client), and every JSON answer is
built from and validated by qdrant-client's REST models (qdrant_client.http.models, generated from Qdrant's OpenAPI
spec): `CollectionsResponse` for GET /collections, `SnapshotDescription` for POST .../snapshots, plus Qdrant's
envelope {"result", "status": "ok", "time"}. Routes, the `wait` query parameter and the `api-key` header are those of
qdrant/qdrant v1.19.0 (docs/redoc/master/openapi.json; lib/api/src/lib.rs). What is not: the snapshot file is a tar
of the local-mode collection folder, not Qdrant's snapshot format (restore is tested on that tar, with qdrant-client).

Usage: python qdrant_stub.py PORT DATA_DIR API_KEY [corrupt]  (prints "ready" when listening).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import sys
import tarfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from qdrant_client import QdrantClient
from qdrant_client.http import models

PORT, DATA, API_KEY = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
CORRUPT = len(sys.argv) > 4 and sys.argv[4] == "corrupt"
CLIENT = QdrantClient(path=str(DATA / "storage"))
SNAPSHOTS = DATA / "snapshots"
SNAPSHOTS.mkdir(parents=True, exist_ok=True)
SNAPSHOT_ROUTE = re.compile(r"^/collections/([^/]+)/snapshots(?:/([^/]+))?$")
COLLECTIONS = {"docs": 3, "faq": 5}
"""The sample data: collection -> number of points (4-dimensional, cosine)."""


def seed() -> None:
    for name, count in COLLECTIONS.items():
        if not CLIENT.collection_exists(name):
            CLIENT.create_collection(name, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
            CLIENT.upsert(name, points=[models.PointStruct(id=i, vector=[1.0, i, 0.5, 0.25], payload={"n": i})
                                        for i in range(count)])
    if not CLIENT.get_aliases().aliases:  # an alias the snapshots must not lose
        CLIENT.update_collection_aliases(change_aliases_operations=[models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name="faq", alias_name="faq-live"))])


def envelope(result: Any) -> bytes:
    return json.dumps({"result": result, "status": "ok", "time": 0.001}).encode()


def take_snapshot(collection: str) -> dict[str, Any]:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d-%H-%M-%S")
    name = f"{collection}-1234-{stamp}.snapshot"  # Qdrant: <collection>-<peer id>-<time>.snapshot
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(DATA / "storage" / "collection" / collection, arcname=collection)
        tar.add(DATA / "storage" / "meta.json", arcname="meta.json")
        if collection == "docs":  # above boto3's 8 MiB multipart threshold: the upload goes in parts
            padding = tarfile.TarInfo("padding.bin")
            padding.size = 9 << 20
            tar.addfile(padding, io.BytesIO(bytes(padding.size)))
    data = buffer.getvalue()
    (SNAPSHOTS / name).write_bytes(data + (b"corrupted in transit" if CORRUPT else b""))
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    description = models.SnapshotDescription(name=name, creation_time=created, size=len(data),
                                             checksum=hashlib.sha256(data).hexdigest())
    return description.model_dump(mode="json", exclude_none=True)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        del args

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.headers.get("api-key") == API_KEY:
            return True
        error = {"status": {"error": "Must provide an API key or an Authorization bearer token"}, "time": 0.0}
        self._send(401, json.dumps(error).encode())
        return False

    def _route(self, method: str) -> None:
        if not self._authorized():
            return
        url = urlsplit(self.path)
        if method == "GET" and url.path == "/collections":
            self._send(200, envelope(CLIENT.get_collections().model_dump(mode="json")))
            return
        if method == "GET" and url.path == "/aliases":
            self._send(200, envelope(CLIENT.get_aliases().model_dump(mode="json")))
            return
        match = SNAPSHOT_ROUTE.match(url.path)
        if match is None:
            self._send(404, b'{"status": {"error": "not found"}}')
            return
        collection, snapshot = unquote(match.group(1)), match.group(2) and unquote(match.group(2))
        if method == "POST" and snapshot is None and "wait=true" in url.query:
            self._send(200, envelope(take_snapshot(collection)))
        elif method == "GET" and snapshot is None:
            self._send(200, envelope([{"name": p.name} for p in sorted(SNAPSHOTS.glob(f"{collection}-*"))]))
        elif method == "GET" and snapshot:
            self._send(200, (SNAPSHOTS / snapshot).read_bytes(), "application/octet-stream")
        elif method == "DELETE" and snapshot:
            (SNAPSHOTS / snapshot).unlink()
            self._send(200, envelope(True))
        else:
            self._send(400, b'{"status": {"error": "unsupported"}}')

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")


if __name__ == "__main__":
    seed()
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print("ready", flush=True)
    server.serve_forever()
