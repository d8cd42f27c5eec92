"""Vector-search policies: Qdrant's API keys only from a Secret; its volumes on an encrypting StorageClass."""

from __future__ import annotations

from typing import Any

from mlops_infra.data.qdrant_config import QdrantConfig
from mlops_infra.data.qdrant_values import helm_values

from .cases import Case, check, params
from .helpers import R

RELEASE = "kubernetes:helm.sh/v3:Release"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"


def values(**override: Any) -> dict[str, Any]:
    """The values the component renders (qdrant_values.helm_values), then `override` on top."""
    return {**helm_values(QdrantConfig(), fullname="q", keys_secret="q-api-keys", storage_class="gp3"), **override}


def release(**override: Any) -> R:
    return R(RELEASE, "q-release", {"chart": "qdrant", "version": "1.19.0", "values": values(**override)})


def gp3(encrypted: str = "true", name: str = "gp3") -> R:
    return R(STORAGE_CLASS, f"sc-{name}", {"metadata": {"name": name}, "provisioner": "ebs.csi.aws.com",
                                           "parameters": {"type": "gp3", "encrypted": encrypted}})


API = "mlops-qdrant-api-key-from-secret"
SC = "mlops-qdrant-encrypted-storage-class"
PLAIN_ENV = [{"name": "QDRANT__SERVICE__API_KEY", "value": "hunter2"},
             {"name": "QDRANT__SERVICE__READ_ONLY_API_KEY",
              "valueFrom": {"secretKeyRef": {"name": "q-api-keys", "key": "read-only-api-key"}}}]
CASES = [
    Case("component", API, [release()], []),
    Case("not-qdrant", API, [R(RELEASE, "other", {"chart": "lakefs", "values": {"apiKey": "x"}})], []),
    Case("value-key", API, [release(apiKey="hunter2")],
         ["q-release: values.apiKey is set: the chart copies or generates the key into its own Secret (or none at all)"]),
    Case("lookup-key", API, [release(readOnlyApiKey={"valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})],
         ["q-release: values.readOnlyApiKey is set: the chart copies or generates the key into its own Secret "
          "(or none at all)"]),
    Case("plain-env", API, [release(env=PLAIN_ENV)], ["q-release: QDRANT__SERVICE__API_KEY is not a secretKeyRef"]),
    Case("no-key", API, [release(env=[])],
         ["q-release: no QDRANT__SERVICE__API_KEY from a Secret: Qdrant runs without that key",
          "q-release: no QDRANT__SERVICE__READ_ONLY_API_KEY from a Secret: Qdrant runs without that key"]),
    Case("encrypted", SC, [gp3(), release()], []),
    Case("other-stack-cluster", SC, [release()], []),
    Case("unencrypted", SC, [gp3("false"), release()],
         ["q-release: persistence.storageClassName 'gp3' does not encrypt its volumes",
          "q-release: snapshotPersistence.storageClassName 'gp3' does not encrypt its volumes"]),
    Case("unknown-class", SC, [gp3(), release(persistence={"storageClassName": "standard", "size": "1Gi"})],
         ["q-release: persistence.storageClassName 'standard' is not a StorageClass of this stack"]),
]


@params(CASES)
def test_vector_search_policies(case: Case) -> None:
    check(case)
