"""The `.Capabilities` a real install gives a chart: the cluster's Kubernetes version and the APIs it serves.

pulumi-kubernetes installs a `helm.sh/v3:Release` against the live cluster, so Helm's `.Capabilities` come from the
API server's discovery: `KubeVersion` is the cluster's version, `APIVersions` every served group/version and
group/version/Kind (built-in and from installed CRDs). An offline render that used Helm's built-in defaults instead
(Kubernetes v1.36, group/versions only, no CRD) would take other template branches than the install does: charts test
`.Capabilities.KubeVersion` for API choices and `.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"` before
creating a ServiceMonitor.

What is modelled:
- **KubeVersion**: the oldest version among the plan's EKS clusters (a stack with none uses the default EKS version
  of this library); EKS reports `v<major>.<minor>.<patch>-eks-…`, and charts compare major.minor.
- **APIVersions**: added to Helm's defaults (which cannot be removed, alpha group/versions included): the stable (GA)
  built-in kinds the Kubernetes OpenAPI schema of that version defines (from kubernetes-validate, already the schema
  source of the core-schema check; EKS enables no alpha API, and no beta API is on by default since Kubernetes 1.24),
  plus every served version of every CRD the plan installs: its own `CustomResourceDefinition` resources and the
  `crds/` of each stored chart its releases install. That is the cluster after the stack's first apply, when every CRD
  the plan installs is present (on the very first install a release ordered before the release owning a CRD sees
  less). CRDs that a chart creates from `templates/` are not known before that chart renders and are not included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..config.versions import DEFAULT_EKS_VERSION
from .inventory import Inventory

EKS_CLUSTER = "aws:eks/cluster:Cluster"
CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


@dataclass(frozen=True)
class Capabilities:
    kube_version: str
    """`v1.35.0`: what `.Capabilities.KubeVersion` reports."""
    api_versions: tuple[str, ...]
    """Sorted `group/version` and `group/version/Kind` entries added to Helm's defaults."""


def _minor(version: Any) -> tuple[int, int] | None:
    parts = str(version or "").lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return None


def cluster_version(inventory: Inventory) -> tuple[int, int]:
    versions = [_minor(r.inputs.get("version")) for r in inventory.resources if r.type == EKS_CLUSTER]
    known = [v for v in versions if v is not None]
    default = _minor(DEFAULT_EKS_VERSION)
    assert default is not None
    return min(known) if known else default


def _stable(version: str) -> bool:
    return "alpha" not in version and "beta" not in version


@lru_cache(maxsize=8)
def builtin_api_versions(minor: tuple[int, int]) -> frozenset[str]:
    """Stable built-in `group/version` and `group/version/Kind` of Kubernetes `minor` (from the OpenAPI schema that
    kubernetes-validate ships; the newest schema not newer than `minor`)."""
    import kubernetes_validate.utils as kv  # type: ignore[import-untyped]

    candidates = sorted({v for v in kv.all_versions() if (_minor(v) or (0, 0)) <= minor}, key=lambda v: _minor(v) or (0, 0))
    if not candidates:
        return frozenset()
    chosen = candidates[-1]
    definitions = kv.schema_contents(f"kubernetes-json-schema/v{chosen}-local-strict/_definitions.json", chosen)
    found: set[str] = set()
    for schema in (definitions.get("$defs") or definitions.get("definitions") or {}).values():
        if not isinstance(schema, dict) or "properties" not in schema or "metadata" not in schema["properties"]:
            continue  # only objects the API serves carry metadata (not Status, WatchEvent, *Options)
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            group, version, kind = gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")
            if not _stable(version) or kind.endswith("List"):
                continue
            group_version = f"{group}/{version}" if group else version
            found.update((group_version, f"{group_version}/{kind}"))
    return frozenset(found)


def crd_api_versions(crds: Iterable[dict[str, Any]]) -> set[str]:
    """`group/version` and `group/version/Kind` for every served version of these CRD objects."""
    found: set[str] = set()
    for crd in crds:
        spec = crd.get("spec") if isinstance(crd, dict) else None
        if not isinstance(spec, dict):
            continue
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        if not isinstance(group, str) or not isinstance(kind, str):
            continue
        for version in spec.get("versions") or []:
            if isinstance(version, dict) and version.get("served", True) and isinstance(version.get("name"), str):
                found.update((f"{group}/{version['name']}", f"{group}/{version['name']}/{kind}"))
    return found


def capabilities(inventory: Inventory, chart_crds: Iterable[dict[str, Any]]) -> Capabilities:
    """The cluster a release of this plan is installed into (see the module docstring for what is modelled)."""
    minor = cluster_version(inventory)
    own = (r.inputs for r in inventory.resources if r.type == CRD_TYPE)
    added = (set(builtin_api_versions(minor)) | crd_api_versions(own) | crd_api_versions(chart_crds))
    return Capabilities(kube_version=f"v{minor[0]}.{minor[1]}.0", api_versions=tuple(sorted(added)))
