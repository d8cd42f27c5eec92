"""The rotation restarter: rolls the workloads of one namespace whose pods read a Secret that changed.

This file is the restarter's code: its Deployment mounts it from a ConfigMap and runs `python rotation_restarter.py`.
Standard library only (no package of this repository), so any image with Python >= 3.10 runs it.

Why: an engine that reads its database password once (from an env var set by `secretKeyRef`, at container start)
keeps using the old one after RDS rotates the master password. External Secrets rewrites the Secret after the
rotation; this loop then patches the pod template of every Deployment and StatefulSet of the namespace that
references one of the watched Secrets (env `secretKeyRef`, `envFrom.secretRef`, a `secret` or projected volume, in
containers and init containers), so their pods restart with the new value, as `kubectl rollout restart` does.

Per workload it keeps the digest of the Secrets it references in the annotation DIGEST_ANNOTATION. The first time a
workload is seen the digest is only recorded (its pods started on the current value); afterwards a different digest
patches RESTARTED_ANNOTATION into the pod template. The digest is a SHA-256 over the Secrets' data (RDS-generated
passwords are long and random: the digest reveals nothing usable).

Kubernetes API (the pod's ServiceAccount token and CA, `KUBERNETES_SERVICE_HOST`/`_PORT`): GET a Secret, LIST
`apps/v1` Deployments and StatefulSets in the namespace, PATCH one (`application/merge-patch+json`).
Environment: WATCH_NAMESPACE, WATCH_SECRETS (comma-separated), POLL_SECONDS (default 60), optional WATCH_WORKLOADS
(the names it may patch), KUBERNETES_API_URL and KUBERNETES_TOKEN_FILE (a stand-in API server, tests only),
HEARTBEAT_FILE (touched after every pass).
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

DIGEST_ANNOTATION = "rotation.mlops.io/secrets-digest"
RESTARTED_ANNOTATION = "rotation.mlops.io/restarted-at"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
KINDS = ("deployments", "statefulsets")


class Api:
    """The few Kubernetes API calls the restarter makes."""

    def __init__(self, base_url: str, token_file: str | None, context: ssl.SSLContext | None) -> None:
        self.base_url, self.token_file, self.context = base_url.rstrip("/"), token_file, context

    @classmethod
    def in_cluster(cls, environ: Mapping[str, str]) -> Api:
        if environ.get("KUBERNETES_API_URL"):
            return cls(environ["KUBERNETES_API_URL"], environ.get("KUBERNETES_TOKEN_FILE"), None)
        host, port = environ["KUBERNETES_SERVICE_HOST"], environ.get("KUBERNETES_SERVICE_PORT", "443")
        return cls(f"https://{host}:{port}", f"{SA_DIR}/token",
                   ssl.create_default_context(cafile=f"{SA_DIR}/ca.crt"))

    def token(self) -> str | None:
        """The projected token, read on every call: the kubelet rotates it on disk and EKS rejects old ones."""
        if not self.token_file:
            return None
        with open(self.token_file, encoding="utf-8") as f:
            return f.read().strip() or None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        token = self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/merge-patch+json"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
            return json.loads(response.read() or b"null")


def referenced_secrets(pod_spec: Mapping[str, Any]) -> set[str]:
    """Names of the Secrets a pod spec reads (camelCase, as the API returns it)."""
    out: set[str] = set()
    for container in [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name"):
                out.add(ref["name"])
        for source in container.get("envFrom") or []:
            if (source.get("secretRef") or {}).get("name"):
                out.add(source["secretRef"]["name"])
    for volume in pod_spec.get("volumes") or []:
        if (volume.get("secret") or {}).get("secretName"):
            out.add(volume["secret"]["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (source.get("secret") or {}).get("name"):
                out.add(source["secret"]["name"])
    return out


def digest(secrets: Mapping[str, Mapping[str, str]]) -> str:
    """SHA-256 over the data of the named Secrets (a missing Secret counts as empty)."""
    return hashlib.sha256(json.dumps(secrets, sort_keys=True).encode()).hexdigest()


def workloads(api: Api, namespace: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in KINDS:
        for item in api.call("GET", f"/apis/apps/v1/namespaces/{namespace}/{kind}").get("items") or []:
            yield kind, item


def plan_patch(workload: Mapping[str, Any], watched: Mapping[str, Mapping[str, str]], now: str) -> dict[str, Any] | None:
    """The merge patch for one workload, or None: nothing watched is referenced, or its digest is unchanged."""
    refs = referenced_secrets(workload.get("spec", {}).get("template", {}).get("spec", {})) & set(watched)
    if not refs:
        return None
    current = digest({name: watched[name] for name in sorted(refs)})
    seen = (workload.get("metadata", {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
    if seen == current:
        return None
    patch: dict[str, Any] = {"metadata": {"annotations": {DIGEST_ANNOTATION: current}}}
    if seen is not None:  # first sight: record only
        patch["spec"] = {"template": {"metadata": {"annotations": {RESTARTED_ANNOTATION: now}}}}
    return patch


def run_once(api: Api, namespace: str, secret_names: list[str], allowed: frozenset[str] = frozenset()) -> list[str]:
    """One pass; returns the workloads restarted (`kind/name`). `allowed`: the names it may patch (its Role's
    `resourceNames`); a reader outside it is reported, not patched. Empty: any."""
    watched: dict[str, dict[str, str]] = {}
    for name in secret_names:
        try:
            watched[name] = api.call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}").get("data") or {}
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            watched[name] = {}  # not synced yet
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    restarted = []
    for kind, item in workloads(api, namespace):
        patch = plan_patch(item, watched, now)
        if patch is None:
            continue
        name = item["metadata"]["name"]
        if allowed and name not in allowed:
            print(f"rotation-restarter: {kind}/{name} reads a watched Secret but is not in WATCH_WORKLOADS",
                  file=sys.stderr, flush=True)
            continue
        api.call("PATCH", f"/apis/apps/v1/namespaces/{namespace}/{kind}/{name}", patch)
        if "spec" in patch:
            restarted.append(f"{kind}/{name}")
            print(f"rotation-restarter: restarted {kind}/{name} (a watched Secret changed)", flush=True)
    return restarted


def main(environ: Mapping[str, str] = os.environ) -> int:
    api = Api.in_cluster(environ)
    namespace = environ["WATCH_NAMESPACE"]
    names = [n.strip() for n in environ["WATCH_SECRETS"].split(",") if n.strip()]
    poll, heartbeat = float(environ.get("POLL_SECONDS", "60")), environ.get("HEARTBEAT_FILE")
    allowed = frozenset(n.strip() for n in environ.get("WATCH_WORKLOADS", "").split(",") if n.strip())
    while True:
        try:
            run_once(api, namespace, names, allowed)
            if heartbeat:
                with open(heartbeat, "w", encoding="utf-8") as f:
                    f.write(str(time.time()))
        except Exception as exc:  # report, try again next pass (the liveness probe watches the heartbeat)
            print(f"rotation-restarter: pass failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        time.sleep(poll)


if __name__ == "__main__":
    sys.exit(main())
