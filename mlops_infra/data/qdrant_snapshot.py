"""The Qdrant snapshot job: snapshot every collection on every node, verify, upload to S3, delete the local copy.

This file is the job's code: the CronJob mounts it from a ConfigMap and runs `python qdrant_snapshot.py`. It needs the
standard library and boto3 only (no package of this repository), so any image with Python >= 3.10 and boto3 runs it.

REST calls (qdrant/qdrant v1.19.0, docs/redoc/master/openapi.json): `GET /collections` (get_collections),
`POST /collections/{c}/snapshots?wait=true` (create_snapshot: a SnapshotDescription `name`, `size`, `checksum`
= sha256), `GET /collections/{c}/snapshots/{name}` (get_snapshot: the file), `DELETE /collections/{c}/snapshots/
{name}?wait=true` (delete_snapshot). A collection snapshot holds the shards of the node it is taken on, so the job
calls each node (StatefulSet pod) directly. The key travels in the `api-key` header (lib/api/src/lib.rs HTTP_HEADER_API_KEY).

Aliases are cluster metadata that no collection snapshot holds: `GET /aliases` (get_collections_aliases:
`{"aliases": [{"alias_name", "collection_name"}]}`; qdrant-client 1.19.1 http/api/aliases_api.py) is saved once per
run as `<prefix>/aliases/<UTC time>.json`, restored with `POST /collections/aliases` (`create_alias` actions).

S3: one object per snapshot, `<prefix>/<node>/<collection>/<snapshot name>`, written by a role that may only put
objects under the prefix (no read, no delete: a compromised job cannot erase backups; the bucket is versioned).

Environment: QDRANT_URLS (comma-separated node URLs), QDRANT_API_KEY, SNAPSHOT_BUCKET, SNAPSHOT_PREFIX,
optional AWS_REGION and S3_ENDPOINT_URL (a stand-in S3, tests only). Exit status 1 if any collection failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

TIMEOUT_SECONDS = 3600  # a large collection's snapshot is written before `wait=true` returns
CHUNK = 1 << 20


@dataclass(frozen=True)
class Node:
    url: str
    api_key: str

    @property
    def label(self) -> str:
        """`qdrant-0.qdrant-headless:6333` -> `qdrant-0`: the S3 key part that tells nodes apart."""
        host = urllib.parse.urlsplit(self.url).hostname or "node"
        return host.split(".", 1)[0]


def _request(node: Node, method: str, path: str) -> urllib.request.Request:
    headers = {"api-key": node.api_key} if node.api_key else {}
    return urllib.request.Request(node.url.rstrip("/") + path, method=method, headers=headers)


def call(node: Node, method: str, path: str) -> Any:
    """One JSON call; Qdrant wraps answers as {"result": ..., "status": "ok", "time": ...}."""
    with urllib.request.urlopen(_request(node, method, path), timeout=TIMEOUT_SECONDS) as response:
        body = json.loads(response.read())
    if body.get("status") != "ok":
        raise RuntimeError(f"{method} {path}: status {body.get('status')!r}")
    return body["result"]


def collections(node: Node) -> list[str]:
    return sorted(c["name"] for c in call(node, "GET", "/collections")["collections"])


def _quoted(collection: str) -> str:
    return urllib.parse.quote(collection, safe="")


def create_snapshot(node: Node, collection: str) -> Mapping[str, Any]:
    return dict(call(node, "POST", f"/collections/{_quoted(collection)}/snapshots?wait=true"))


def download(node: Node, collection: str, snapshot: str, dest: str) -> str:
    """Stream the snapshot file to `dest`; returns its sha256."""
    digest = hashlib.sha256()
    path = f"/collections/{_quoted(collection)}/snapshots/{urllib.parse.quote(snapshot, safe='')}"
    with urllib.request.urlopen(_request(node, "GET", path), timeout=TIMEOUT_SECONDS) as response, \
            open(dest, "wb") as out:
        while chunk := response.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def delete_snapshot(node: Node, collection: str, snapshot: str) -> None:
    call(node, "DELETE",
         f"/collections/{_quoted(collection)}/snapshots/{urllib.parse.quote(snapshot, safe='')}?wait=true")


def object_key(prefix: str, node: Node, collection: str, snapshot: str) -> str:
    return "/".join(p for p in (prefix.strip("/"), node.label, collection, snapshot) if p)


def snapshot_collection(node: Node, collection: str, s3: Any, bucket: str, prefix: str, workdir: str) -> str:
    """Snapshot one collection on one node into S3; returns the object key. The node's copy is deleted even when
    the upload fails (snapshots fill the node's volume otherwise)."""
    description = create_snapshot(node, collection)
    name = str(description["name"])
    try:
        local = os.path.join(workdir, name)
        sha256 = download(node, collection, name, local)
        expected = description.get("checksum")
        if expected and expected != sha256:
            raise RuntimeError(f"{collection}/{name}: sha256 {sha256} != Qdrant's checksum {expected}")
        key = object_key(prefix, node, collection, name)
        # upload_file: multipart above 8 MiB (s3:PutObject covers create/upload part/complete).
        s3.upload_file(local, bucket, key, ExtraArgs={"Metadata": {"sha256": sha256}})
        os.remove(local)
        return key
    finally:
        delete_snapshot(node, collection, name)


def save_aliases(node: Node, s3: Any, bucket: str, prefix: str, now: str) -> str:
    """The cluster's aliases as one JSON object; returns its key."""
    aliases = sorted(call(node, "GET", "/aliases")["aliases"], key=lambda a: (a["alias_name"], a["collection_name"]))
    key = "/".join(p for p in (prefix.strip("/"), "aliases", f"{now}.json") if p)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({"aliases": aliases}, indent=2).encode(),
                  ContentType="application/json")
    return key


def run(nodes: list[Node], s3: Any, bucket: str, prefix: str) -> tuple[list[str], list[str]]:
    """Every collection of every node, and the aliases; returns (uploaded keys, failures). One failure does not stop
    the others."""
    uploaded: list[str] = []
    failed: list[str] = []
    workdir = tempfile.mkdtemp(prefix="qdrant-snapshots-")
    try:
        for node in nodes:
            try:
                names = collections(node)
            except Exception as exc:  # report, go on with the next node
                failed.append(f"{node.label}: list collections: {type(exc).__name__}: {exc}")
                continue
            for collection in names:
                try:
                    uploaded.append(snapshot_collection(node, collection, s3, bucket, prefix, workdir))
                except Exception as exc:  # report, go on with the next collection
                    failed.append(f"{node.label}/{collection}: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if nodes:  # aliases are cluster-wide (consensus): one node answers for all
        try:
            uploaded.append(save_aliases(nodes[0], s3, bucket, prefix,
                                         datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")))
        except Exception as exc:  # report
            failed.append(f"{nodes[0].label}: aliases: {type(exc).__name__}: {exc}")
    return uploaded, failed


def main(environ: Mapping[str, str] = os.environ) -> int:
    import boto3  # in the job's image; imported here so the module loads without it

    api_key = environ.get("QDRANT_API_KEY", "")
    nodes = [Node(u.strip(), api_key) for u in environ["QDRANT_URLS"].split(",") if u.strip()]
    s3 = boto3.client("s3", region_name=environ.get("AWS_REGION"), endpoint_url=environ.get("S3_ENDPOINT_URL") or None)
    uploaded, failed = run(nodes, s3, environ["SNAPSHOT_BUCKET"], environ.get("SNAPSHOT_PREFIX", ""))
    for key in uploaded:
        print(f"uploaded s3://{environ['SNAPSHOT_BUCKET']}/{key}", flush=True)
    for failure in failed:
        print(f"FAILED {failure}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
