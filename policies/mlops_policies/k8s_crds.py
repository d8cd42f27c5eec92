"""Custom resources against their CRDs: every custom resource in the stack (ours and rendered from charts) is
validated against the `openAPIV3Schema` of its CRD version (crd_catalog: the stack's CRDs, then the chart store's).

What a violation means at apply time: a type, enum, pattern, bound or required-field error is refused by the API
server (422) however the object is applied. An unknown field is pruned: a custom resource the library applies itself
is sent with fieldValidation Warn (pulumi-kubernetes provider/pkg/await/await.go, or the API server's default, Warn
since v1.23); Helm's client-side "strict" validation (pkg/kube/client.go `Build`) defers to the server when the
server supports field validation, so a chart's object is created too, with a warning (helm/helm#13053: "STATUS:
deployed"). Either way the setting is silently lost: a finding.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import crd_catalog
from .core import Resource, Stack, stack_policy
from .crd_catalog import CRD_TYPE, Catalog, CrdVersion, compiled
from .k8s_admission import describe, kind_of, release_of

BUILTIN_GROUPS = frozenset({
    "core", "apps", "batch", "autoscaling", "policy", "extensions", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "apiregistration.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "certificates.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
    "flowcontrol.apiserver.k8s.io", "internal.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io",
    "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io",
    "storagemigration.k8s.io",
    "helm.sh", "kustomize", "yaml",  # pulumi-kubernetes' own resources (Release, Chart, Directory, ConfigGroup)
})
"""Kubernetes v1.35's built-in API groups (served without a CRD) and pulumi-kubernetes' pseudo-groups."""
CONFIG: dict[str, dict[str, Any]] = {
    "crdDirectories": {"type": "array", "items": {"type": "string"}, "default": [],
                       "description": "More folders of CRD files (charts or plain YAML), besides the chart store."},
    "chartStore": {"type": "boolean", "default": True,
                   "description": "Read CRDs from mlops_infra's chart store (mlops_infra/charts/store)."},
}


def custom_resources(stack: Stack) -> Iterator[tuple[Resource, str, str, str]]:
    """(resource, group, version, kind) of every object of an API group that a CRD serves."""
    for res in stack.resources:
        parsed = kind_of(res.type)
        if parsed is not None and parsed[0] not in BUILTIN_GROUPS:
            yield res, *parsed


_CATALOGS: weakref.WeakKeyDictionary[Stack, dict[tuple[str, ...], Catalog]] = weakref.WeakKeyDictionary()


def catalog(stack: Stack, config: Mapping[str, Any]) -> Catalog:
    """The stack's CRD catalog for the configured folders, shared by both CRD policies of one check."""
    folders = [Path(d) for d in config.get("crdDirectories") or []]
    store = crd_catalog.chart_store() if config.get("chartStore", True) else None
    folders += [store] if store is not None else []
    key = tuple(str(f) for f in folders)
    per_stack = _CATALOGS.setdefault(stack, {})
    if key not in per_stack:
        per_stack[key] = Catalog(stack.of_type(CRD_TYPE), folders)
    return per_stack[key]


def _resolve(cat: Catalog, group: str, version: str, kind: str) -> tuple[str, CrdVersion | bool | None]:
    """(kind judged, lookup result). A `<Kind>Patch` of a known kind is a partial object: not validated."""
    found = cat.lookup(group, kind, version)
    if found is None and kind.endswith("Patch") and cat.lookup(group, kind[:-5], version) is not None:
        return kind[:-5], False
    return kind, found


def _consequence(res: Resource) -> str:
    release = release_of(res)
    if release:
        return f"the API server prunes it and release {release} installs with a warning, without the setting"
    return "the API server prunes it (fieldValidation Warn): the setting is silently lost"


def schema_findings(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[Resource, str]]:
    cat = catalog(stack, config)
    for res, group, version, kind in custom_resources(stack):
        kind, found = _resolve(cat, group, version, kind)
        what = describe(res, kind)
        if found is True:
            served = sorted(v for (g, k, v) in cat.versions if (g, k) == (group, kind))
            yield res, f"{what}: the CRD of {group}/{kind} has no version {version} (versions: {', '.join(served)})"
        elif isinstance(found, CrdVersion):
            if not found.served:
                yield res, f"{what}: CRD {found.crd} does not serve version {version}"
            schema = compiled(found)
            for error in schema.errors(res.props) if schema is not None else []:
                note = f": {_consequence(res)}" if error.unknown_field else ""
                yield res, (f"{what}: {error.path or '(root)'}: {error.message} (CRD {found.crd} {version}, "
                            f"{found.source}){note}")


@stack_policy(
    "mlops-k8s-crd-schema",
    description="Every custom resource (ours and rendered from charts) matches the openAPIV3Schema of its CRD "
                "version, with the API server's structural-schema rules (unknown fields, int-or-string, "
                "nullable, embedded resources, metadata).",
    severity="high",
    pack="mlops-invariants",
    controls=("K8S CRD structural schema",),
    remediation="Fix the field the message names (a misspelled or misplaced key is an unknown field); for a "
                "rendered object, fix the chart values that produce it.",
    strictness="always",
    config=CONFIG,
)
def crd_schema(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    return schema_findings(stack, config)


@stack_policy(
    "mlops-k8s-crd-no-schema",
    description="Every custom resource has its CRD in the stack or the chart store, so its schema can be checked.",
    severity="low",
    pack="mlops-invariants",
    controls=("K8S CRD structural schema",),
    remediation="Vendor the chart that ships the CRD (tools/vendor_chart.py) or declare the CRD in the stack.",
    strictness="advisory",
    config=CONFIG,
)
def crd_no_schema(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    cat = catalog(stack, config)
    for res, group, version, kind in custom_resources(stack):
        if _resolve(cat, group, version, kind)[1] is None:
            yield res, f"{describe(res, kind)}: no schema: no CRD of {group}/{kind} in the stack or the chart store"
