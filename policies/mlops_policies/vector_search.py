"""Vector search (Qdrant, chart qdrant/qdrant-helm): what its release asks of the cluster.

- The API keys come only from a Secret: the chart's `apiKey`/`readOnlyApiKey` values are refused whatever their form.
  A string or `true` puts the key in values (or has the chart generate one into its own Secret); a map
  `valueFrom.secretKeyRef` is resolved with Helm `lookup` at render time and COPIED into the chart's Secret, and
  when the referenced Secret is not there yet (an ExternalSecret not synced), Qdrant starts with no key at all
  (charts/qdrant templates/_helpers.tpl `qdrant.secret` at qdrant-1.19.0). The keys must reach the pod as
  `QDRANT__SERVICE__API_KEY` from a `secretKeyRef`, which fails closed.
- Its volumes use a StorageClass of the stack that encrypts (`encrypted: "true"`, EBS CSI): vectors are data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import NotApplicable, Resource, Stack, as_list, dig, each, known, resource_policy, stack_policy

RELEASE = "kubernetes:helm.sh/v3:Release"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
KEY_VARS = ("QDRANT__SERVICE__API_KEY", "QDRANT__SERVICE__READ_ONLY_API_KEY")


def is_qdrant(res: Resource) -> bool:
    chart = known(res.get("chart"), "chart")
    return isinstance(chart, str) and chart.rstrip("/").rsplit("/", 1)[-1] == "qdrant"


def _values(res: Resource) -> Mapping[str, Any]:
    values = known(res.get("values"), "values") or {}
    return values if isinstance(values, Mapping) else {}


@resource_policy(
    "mlops-qdrant-api-key-from-secret",
    types=[RELEASE],
    description="Qdrant's API keys reach its pods only by secretKeyRef, never through the chart's apiKey values.",
    severity="high", pack="mlops-security",
    controls=("SOC2 CC6.1", "ISO27001 A.8.5", "NIST 800-53 IA-5"),
    remediation="Remove apiKey/readOnlyApiKey from the values; sync the keys with an ExternalSecret and pass them "
                "as env QDRANT__SERVICE__API_KEY / QDRANT__SERVICE__READ_ONLY_API_KEY with valueFrom.secretKeyRef "
                "(mlops_infra/data/qdrant.py does).",
)
def api_key_from_secret(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if not is_qdrant(res):
        return
    values = _values(res)
    for key in ("apiKey", "readOnlyApiKey"):
        if key in values and values[key] not in (False, None):
            yield f"values.{key} is set: the chart copies or generates the key into its own Secret (or none at all)"
    env = {e.get("name"): e for e in as_list(values.get("env")) if isinstance(e, Mapping)}
    for var in KEY_VARS:
        entry = env.get(var)
        if entry is None:
            yield f"no {var} from a Secret: Qdrant runs without that key"
        elif "value" in entry or dig(entry, "valueFrom", "secretKeyRef", "name") is None:
            yield f"{var} is not a secretKeyRef"


@stack_policy(
    "mlops-qdrant-encrypted-storage-class",
    description="Qdrant's volumes (data and snapshots) use an encrypting StorageClass of the stack.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_3", "FSBP EC2.7", "SOC2 CC6.1", "PCI-DSS 3.5.1"),
    remediation="Set persistence.storageClassName (and snapshotPersistence.storageClassName) to the cluster's "
                "encrypted class (gp3, `encrypted: \"true\"`, the platform's KMS key).",
)
def encrypted_storage_class(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    classes = {known(dig(c.get("metadata"), "name"), "metadata.name"): c for c in stack.of_type(STORAGE_CLASS)}

    def check(release: Resource) -> Iterable[str]:
        if not is_qdrant(release):
            return
        if not classes:
            raise NotApplicable("the stack creates no StorageClass (the cluster is another stack's)")
        values = _values(release)
        volumes = {"persistence": values.get("persistence") or {}}
        if dig(values, "snapshotPersistence", "enabled") is True:
            volumes["snapshotPersistence"] = values.get("snapshotPersistence") or {}
        for path, volume in volumes.items():
            name = volume.get("storageClassName") if isinstance(volume, Mapping) else None
            if name is None:
                yield f"{path}.storageClassName is unset (the cluster default is not checked here)"
                continue
            sc = classes.get(name)
            if sc is None:
                yield f"{path}.storageClassName {name!r} is not a StorageClass of this stack"
            elif str(dig(sc.get("parameters"), "encrypted")).lower() != "true":
                yield f"{path}.storageClassName {name!r} does not encrypt its volumes"

    yield from each(stack.of_type(RELEASE), check)
