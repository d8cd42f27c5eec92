"""Staging's Kubeflow Pipelines pods as the cluster receives them (the kustomize Directory rendered at its pin, with
kfp_manifests/hardening.yaml applied): each read-only container can write where its image writes, the others are
the ones staging waives, limits admit the requests, and only the pods that call the Kubernetes API get a token."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from typing import Any

import pytest

from mlops_infra.pipelines import kfp
from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import KFP_BASES, ROOT, planned
from tests.nonempty import each
from tests.system_capacity import cpu_m, memory_mib

NS = "kubeflow"
DEPLOYMENT, SERVICE_ACCOUNT = "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ServiceAccount"

WRITES: dict[tuple[str, str], list[str]] = {
    # third_party/metadata_envoy: `envoy -c` with metadata-envoy-configmap, whose admin access log is a file there.
    ("metadata-envoy-deployment", "container"): ["/tmp"],
    # backend/metadata_writer/src/metadata_writer.py: each watched pod is dumped to /tmp/pod_<name>_<version>.
    ("metadata-writer", "main"): ["/tmp"],
    # backend/src/apiserver/visualization: each visualization's Jupyter kernel connection file (jupyter_client
    # KernelManager: tempfile.mkstemp) and IPython's fallback dir when HOME (/) is not writable.
    ("ml-pipeline-visualizationserver", "ml-pipeline-visualizationserver"): ["/tmp", "/var/tmp"],
}
"""(Deployment, container) -> the directories it writes at 2.17.0 (hardening.yaml cites the sources); a read-only
container not named here writes nothing (the wait-for-* scripts, ML Metadata's server, the Go servers, the UI)."""


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("staging", render=True)


def rendered(inv: Inventory, typ: str) -> dict[str, ResourceRecord]:
    return {r.inputs["metadata"]["name"]: r for r in inv.of_type(typ)
            if r.options.get("rendered") and (r.inputs.get("metadata") or {}).get("namespace") == NS}


def pod(dep: ResourceRecord) -> dict[str, Any]:
    spec: dict[str, Any] = dep.inputs["spec"]["template"]["spec"]
    return spec


def containers(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def writable_paths(spec: Mapping[str, Any], container: dict[str, Any]) -> list[str]:
    """Where `container` can write with a read-only root: its read-write mounts of emptyDir volumes."""
    empty = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
    return sorted(m["mountPath"] for m in container.get("volumeMounts") or []
                  if m["name"] in empty and not m.get("readOnly"))


def staging_waived(policy: str, name: str) -> bool:
    config = json.loads((ROOT / "policies" / "config" / "staging.json").read_text())
    return any(fnmatch.fnmatchcase(name, w["resource"]) for w in config.get(policy, {}).get("waivers", []))


@pytest.mark.charts(KFP_BASES)
def test_each_read_only_container_has_a_writable_mount_where_it_writes(inv: Inventory) -> None:
    deployments = rendered(inv, DEPLOYMENT)
    read_only: set[tuple[str, str]] = set()
    for name, dep in each(deployments.items()):
        spec = pod(dep)
        for c in containers(spec):
            if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is True:
                read_only.add((name, c["name"]))
                # exactly the paths it writes: no unexplained writable mount either
                assert writable_paths(spec, c) == WRITES.get((name, c["name"]), []), \
                    (name, c["name"])
            else:  # a writable root only where staging waives it, with the reason (policies/config/staging.json)
                assert staging_waived("mlops-k8s-read-only-root-fs", name), (name, c["name"])
        for volume in spec.get("volumes") or []:
            if "emptyDir" in volume:  # a runaway writer fills its own limit, not the node's disk
                assert volume["emptyDir"].get("sizeLimit"), (name, volume["name"])
    assert set(WRITES) <= read_only  # the patch reached them: the mounts above were checked
    # The init containers (nc/sleep loops) and every server are read-only.
    assert {c for d, c in read_only if d == "ml-pipeline"} == {"wait-for-database", "wait-for-metadata-grpc",
                                                             "ml-pipeline-api-server"}
    assert ("ml-pipeline-visualizationserver", "ml-pipeline-visualizationserver") in read_only


DUMP_KIB = 64
"""The most one pod dump of the metadata writer takes (yaml of `V1Pod.to_dict()`): 37-55 KB measured for KFP v2
step pods with kubernetes 31.0.0, the writer's pin (review R10KFP)."""


@pytest.mark.charts(KFP_BASES)
def test_the_metadata_writers_kept_pod_dumps_fit_its_tmp_volume(inv: Inventory) -> None:
    # metadata_writer.py keeps the newest DEBUG_FILES_SIZE dumps (default 5000) in /tmp; past the emptyDir's
    # sizeLimit the kubelet evicts the pod.
    spec = pod(rendered(inv, DEPLOYMENT)["metadata-writer"])
    [main] = [c for c in spec["containers"] if c["name"] == "main"]
    kept = int({e["name"]: e.get("value") for e in main.get("env") or []}.get("DEBUG_FILES_SIZE") or 5000)
    [tmp] = [m["name"] for m in main["volumeMounts"] if m["mountPath"] == "/tmp"]
    [limit] = [v["emptyDir"]["sizeLimit"] for v in spec["volumes"] if v["name"] == tmp]
    assert kept * DUMP_KIB <= memory_mib(limit) * 1024, (kept, limit)


@pytest.mark.charts(KFP_BASES)
def test_limits_admit_the_requests(inv: Inventory) -> None:
    for name, dep in each(rendered(inv, DEPLOYMENT).items()):
        for c in containers(pod(dep)):
            res = c.get("resources") or {}
            requests, limits = res.get("requests") or {}, res.get("limits") or {}
            assert set(limits) == {"cpu", "memory"} and set(requests) == {"cpu", "memory"}, (name, c["name"])
            # the API server refuses a pod whose request exceeds its limit
            assert cpu_m(requests["cpu"]) <= cpu_m(limits["cpu"]), (name, c["name"])
            assert memory_mib(requests["memory"]) <= memory_mib(limits["memory"]), (name, c["name"])


@pytest.mark.charts(KFP_BASES)
def test_only_the_pods_that_call_the_api_get_a_token(inv: Inventory) -> None:
    """A pod mounts a token exactly when it is one of kfp.API_CLIENTS, the pods the API egress NetworkPolicy lets
    reach the Kubernetes API (the platform-owned ServiceAccounts ml-pipeline and ml-pipeline-ui included)."""
    accounts = {r.inputs["metadata"]["name"]: r for r in inv.of_type(SERVICE_ACCOUNT)
                if (r.inputs.get("metadata") or {}).get("namespace") == NS}
    for name, dep in each(rendered(inv, DEPLOYMENT).items()):
        spec = pod(dep)
        account = spec.get("serviceAccountName") or "default"
        declared = spec.get("automountServiceAccountToken")
        if declared is None:
            assert account in accounts, (name, account)  # a rendered or platform-owned account, never `default`
            declared = accounts[account].inputs.get("automountServiceAccountToken")
            assert declared is not None, (name, account)  # said explicitly, not Kubernetes' default
        labels = dep.inputs["spec"]["template"]["metadata"].get("labels") or {}
        assert declared is (labels.get("app") in kfp.API_CLIENTS), (name, account)
    for name, account in each(rendered(inv, SERVICE_ACCOUNT).items()):
        assert isinstance(account.inputs.get("automountServiceAccountToken"), bool), name
