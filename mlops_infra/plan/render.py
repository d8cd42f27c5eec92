"""Render what the cluster receives: every Helm release and kustomize Directory of a plan, at its pin, offline.

A `kubernetes:helm.sh/v3:Release` whose chart is in the chart store (`mlops_infra.charts`, matched on chart, repo and
version, for any program) is rendered with Helm v4's engine (helm-python-sdk: `Chart.load(dir).render(values,
name=, namespace=, is_install=True)`; `lookup` returns nothing) with the values the plan resolved, the release name
and namespace the install would use. Its CRDs (`crds/`, installed by Helm before the templates unless `skipCrds`) and
every rendered object join the inventory as children of the release: type `kubernetes:<group/version>:<Kind>`, inputs
the whole object (namespace filled in as Helm's install would), `options.rendered` naming the release. Helm test
hooks are left out (`helm install` never creates them); other hooks are kept and marked.

A `kubernetes:kustomize/v2:Directory` is rendered with `kubectl kustomize` (kustomize v5.5.0 on the machine image).

Nothing renders twice: results are cached by chart digest (and the digest's format, `charts.DIGEST_FORMAT`) + values
digest, in memory and on disk
(`$MLOPS_INFRA_CACHE`, default `~/.cache/mlops-infra/render`).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .. import charts
from .capabilities import Capabilities, capabilities
from .inventory import Inventory, ResourceRecord
from .kube_identity import CLUSTER_SCOPED, PROVIDER_NAMESPACE, provider_namespaces
from .names import k8s_auto_name
from .render_cache import RENDER_VERSION, _cached, _digest, _load_all, documents_of
from .render_kustomize import RenderError, _remote_bases, render_kustomize
from .render_yaml import YAML_TYPES, Unrenderable, yaml_objects

RELEASE = "kubernetes:helm.sh/v3:Release"
DIRECTORY = "kubernetes:kustomize/v2:Directory"
CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
HELM_RELEASE_NAME_LIMIT = 53


@dataclass
class ReleaseRender:
    """What happened to one release or Directory: `rendered` (with its object count), `unrendered` or `failed`."""

    urn: str
    name: str
    status: str
    detail: str = ""
    objects: int = 0
    chart: str = ""


@dataclass
class RenderReport:
    releases: list[ReleaseRender] = field(default_factory=list)



def kube_type(api_version: str, kind: str) -> str:
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


@lru_cache(maxsize=64)
def _engine_version() -> str:
    """The embedded Helm engine's package version: part of every Helm cache key (a new engine renders again)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("helm-python-sdk")
    except PackageNotFoundError:  # pragma: no cover - a dependency of mlops-infra
        return ""


def _load_chart(path: str) -> Any:
    import helm_python  # a 75 MB native engine: imported only when a release is rendered

    return helm_python.Chart.load(path)


TEST_HOOKS = {"test", "test-success", "test-failure"}
"""Hooks `helm install` never runs (helm pkg/release/v1/util/manifest_sorter.go: `test-success` is `test`'s old name)."""


def _disabled_subcharts(chart: Any, values: dict[str, Any]) -> list[str]:
    """Template-path prefixes (`<chart>/charts/<dependency>/`) of the dependencies whose `condition` is false in the
    merged values, as Helm's chartutil.ProcessDependencyConditions reads it: the first path of the comma-separated
    list that holds a boolean decides; none -> enabled. (Tags, and conditions of nested dependencies, are not read.)"""
    merged = chart.merge_values(values)
    disabled = []
    for dep in chart.metadata.get("dependencies") or []:
        for path in str(dep.get("condition") or "").split(","):
            node: Any = merged
            for part in [p for p in path.strip().split(".") if p]:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, bool):
                if not node:
                    disabled.append(f"{chart.name}/charts/{dep['name']}/")
                break
    return disabled


def chart_crds(stored: charts.StoredChart, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The CRDs Helm installs before the templates: the chart's `crds/` and those of its enabled dependencies."""

    def produce() -> list[dict[str, Any]]:
        chart = _load_chart(str(stored.path))
        disabled = _disabled_subcharts(chart, values)
        out: list[dict[str, Any]] = []
        # Helm installs the CRDs of enabled dependencies only (ProcessDependencies first).
        files = [crd for crd in chart.crds if not any(crd["filename"].startswith(p) for p in disabled)]
        for crd, docs in zip(files, documents_of([crd["data"] for crd in files]), strict=True):
            out.extend({**doc, "_template": crd["filename"]} for doc in docs)
        return out

    # Keyed by the values (which decide the enabled dependencies) so that a warm run never loads the engine.
    return _cached(_digest("crds", RENDER_VERSION, charts.DIGEST_FORMAT, _engine_version(), stored.digest, values),
                   produce)


def render_chart(stored: charts.StoredChart, values: dict[str, Any], release_name: str, namespace: str,
                 skip_crds: bool = False, caps: Capabilities | None = None) -> list[dict[str, Any]]:
    """The objects `helm install` would create for this release: CRDs first (unless skipped), then templates in
    template order, test hooks left out. Each object carries `_template` (its source file) for messages. `caps` are
    the cluster's `.Capabilities` (`plan.capabilities`); without them Helm's built-in defaults apply."""

    def produce() -> list[dict[str, Any]]:
        from helm_python import _native
        from helm_python.chart import _dumps

        chart = _load_chart(str(stored.path))
        options: dict[str, Any] = {"name": release_name, "namespace": namespace, "is_install": True}
        if caps is not None:
            # Chart.render() has no parameter for these; the engine's render options do (helm-c-sdk
            # wrapper.decodeOptions: kube_version, api_versions, appended to Helm's defaults as `--api-versions`).
            options.update(kube_version=caps.kube_version, api_versions=list(caps.api_versions))
        rendered: dict[str, str] = json.loads(_native.call_string("helm_render", chart._raw(), _dumps(values),
                                                                  json.dumps(options)))
        out: list[dict[str, Any]] = []
        # Helm installs every rendered template but partials (`_*`) and NOTES.txt, whatever its extension
        # (releaseutil SortManifests); empty ones yield nothing.
        templates = [t for t in sorted(rendered)
                     if not t.rsplit("/", 1)[-1].startswith("_") and not t.endswith("NOTES.txt")]
        for template, docs in zip(templates, documents_of([rendered[t] for t in templates]), strict=True):
            for doc in docs:
                hook = ((doc.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", "")
                if {h.strip() for h in str(hook).split(",")} & TEST_HOOKS:
                    continue
                out.append({**doc, "_template": template})
        return out

    crds = [] if skip_crds else chart_crds(stored, values)
    capability_key = (caps.kube_version, caps.api_versions) if caps else None
    key = _digest("helm", RENDER_VERSION, charts.DIGEST_FORMAT, _engine_version(), stored.digest, values, release_name,
                  namespace, capability_key)
    return crds + _cached(key, produce)


def _scopes(inventory: Inventory, extra: Iterable[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(group, kind) -> Namespaced|Cluster for every CRD the plan installs (ours or rendered)."""
    scopes: dict[tuple[str, str], str] = {}
    crds = [r.inputs for r in inventory.resources if r.type == CRD_TYPE] + [o for o in extra
                                                                            if o.get("kind") == "CustomResourceDefinition"]
    for crd in crds:
        spec = crd.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        if isinstance(kind, str):
            scopes[(str(spec.get("group", "")), kind)] = str(spec.get("scope", "Namespaced"))
    return scopes


def _record(release: ResourceRecord, obj: dict[str, Any], namespace: str, stack: str, project: str,
            scopes: dict[tuple[str, str], str], kind_label: str) -> ResourceRecord:
    obj = {k: v for k, v in obj.items() if k != "_template"}
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    meta = dict(obj.get("metadata") or {})
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    cluster_scoped = kind in CLUSTER_SCOPED or scopes.get((group, kind)) == "Cluster"
    if cluster_scoped:
        meta.pop("namespace", None)
    else:
        meta.setdefault("namespace", namespace)
    obj["metadata"] = meta
    typ = kube_type(api_version, kind)
    qualified = release.urn.split("::")[2]
    object_name = str(meta.get("name", ""))
    local = object_name if cluster_scoped else f"{meta['namespace']}/{object_name}"
    # A kustomize Directory's objects are Pulumi resources named `<directory name>:<ns>/<name>` (pulumi-kubernetes
    # kustomize/v2 directory.go: the resource prefix defaults to the Directory's name, joined with ":"); a Helm
    # release's objects are not Pulumi resources, and are named here `<release name>/<ns>/<name>`.
    if kind_label in ("kustomize", "yaml"):
        # `resourcePrefix` when given (an empty one: no prefix), else the Directory's name (directory.go, yaml.go).
        prefix = release.inputs.get("resourcePrefix")
        prefix = release.name if prefix is None else str(prefix)
        urn_name = f"{prefix}:{local}" if prefix else local
    else:
        urn_name = f"{release.name}/{local}"
    return ResourceRecord(
        urn=f"urn:pulumi:{stack}::{project}::{qualified}${typ}::{urn_name}", type=typ, name=object_name,
        parent=release.urn, custom=True, id=None, inputs=obj,
        options={"rendered": {"by": kind_label, "release": release.urn}, "provider": release.options.get("provider"),
                 "dependsOn": [], "protect": False},
        # A release's objects wait for it (the install creates them); a Directory's objects are resources of their
        # own, registered with `Parent(comp)` only (yaml/v2 Register): they wait for what the Directory waits for.
        dependencies=([release.urn] if kind_label not in ("kustomize", "yaml")
                      else sorted({*release.dependencies, *(release.options.get("dependsOn") or [])})))


def render_inventory(inventory: Inventory, base: Path | None = None) -> RenderReport:
    """Add every release's and Directory's rendered objects to `inventory` (in place); say what was rendered.
    `base`: the program's working directory, against which relative paths (values files, Directories) resolve."""
    base = base or Path.cwd()
    report = RenderReport()
    namespaces = provider_namespaces(inventory.resources)
    pending: list[tuple[ResourceRecord, list[dict[str, Any]], str, str]] = []
    releases: list[_Release] = []
    for record in list(inventory.resources):
        if record.type == RELEASE:
            release = _resolve_release(record, report, base, namespaces)
            if release is not None:
                releases.append(release)
        elif record.type == DIRECTORY:
            pending.extend(_render_directory(record, report, base))
        elif record.type in YAML_TYPES:
            pending.extend(_render_yaml(record, report, base))
    crds: list[dict[str, Any]] = []
    for release in releases:
        if not release.skip_crds:
            with contextlib.suppress(Exception):  # the release's own render reports the engine's message
                crds += chart_crds(release.stored, release.values)
    caps = capabilities(inventory, crds)
    for release in releases:
        pending.extend(_render_release(release, caps))
    scopes = _scopes(inventory, (o for _, objs, _, _ in pending for o in objs))
    for record, objects, namespace, label in pending:
        inventory.resources.extend(_record(record, obj, namespace, inventory.stack, inventory.project, scopes, label)
                                   for obj in objects)
    return report


@dataclass
class _Release:
    record: ResourceRecord
    entry: ReleaseRender
    stored: charts.StoredChart
    values: dict[str, Any]
    name: str
    namespace: str
    skip_crds: bool


def _values(inputs: dict[str, Any], base: Path) -> dict[str, Any]:
    """The values Helm installs with: each of `valueYamlFiles` merged in order, then `values` on top (pulumi-kubernetes
    helm_release.go decodeRelease, helm MergeMaps: maps merge deeply, anything else is replaced)."""

    def merge(into: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
        out = dict(into)
        for key, value in top.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    merged: dict[str, Any] = {}
    for asset in inputs.get("valueYamlFiles") or []:
        if not isinstance(asset, dict):
            raise RenderError(f"unsupported type for 'valueYamlFiles' arg: {type(asset).__name__}")
        if "text" in asset:
            text = str(asset["text"])
        elif "path" in asset:
            path = Path(str(asset["path"]))
            text = (path if path.is_absolute() else base / path).read_text()
        else:
            raise RenderError("a remote 'valueYamlFiles' asset cannot be read offline")
        merged = merge(merged, (_load_all(text) or [None])[0] or {})  # sigs.k8s.io/yaml's scalars
    return merge(merged, inputs.get("values") or {})


def _resolve_release(record: ResourceRecord, report: RenderReport, base: Path,
                     provider_namespaces: dict[str, str]) -> _Release | None:
    """`provider_namespaces`: provider URN -> its default namespace, where known (`kube_identity`)."""
    inputs = record.inputs
    chart, version = str(inputs.get("chart", "")), str(inputs.get("version", ""))
    repo = str((inputs.get("repositoryOpts") or {}).get("repo", "") or "")
    release_name = str(inputs.get("name") or "")
    entry = ReleaseRender(record.urn, record.name, "unrendered", chart=f"{chart} {version}")
    report.releases.append(entry)
    stored = charts.find(chart, repo, version)
    if stored is None:
        entry.detail = (f"chart {chart} {version} from {repo or 'OCI'} is not in the chart store: "
                        f"{charts.why_missing(chart, repo, version)}")
        return None
    if inputs.get("postrender"):
        # Helm pipes the manifest through this command before applying it; running a program's command offline
        # is not this library's to do, and the unprocessed manifest is not what the cluster receives.
        entry.detail = f"postrender command {str(inputs['postrender'])[:80]!r} is not run offline"
        return None
    if not release_name:
        # pulumi-kubernetes names it `<logical name>-<8 random hex>`: render with such a name (the mock's stand-in
        # for the random part), so what depends on the name (`release: x` selectors, Service URLs) is judged as
        # the install would leave it.
        release_name = k8s_auto_name(record.type, record.name)  # the name the mock's outputs carry
        entry.detail = f"auto-named {release_name}"
    try:
        values = _values(inputs, base)
    except (OSError, yaml.YAMLError, RenderError) as exc:
        entry.status, entry.detail = "failed", f"valueYamlFiles: {exc}"[:300]
        return None
    # A release without `namespace` is installed in its provider's default namespace (pulumi-kubernetes
    # helm_release.go `setDefaults`); when that is not known at plan time, render into PROVIDER_NAMESPACE, which the
    # strict plan compares only with other objects so placed on that provider.
    provider = str((record.options or {}).get("provider") or "")
    namespace = inputs.get("namespace") or provider_namespaces.get(provider, PROVIDER_NAMESPACE)
    return _Release(record, entry, stored, values, release_name, str(namespace), bool(inputs.get("skipCrds")))


def _render_release(release: _Release, caps: Capabilities) -> list[tuple[ResourceRecord, list[dict[str, Any]],
                                                                         str, str]]:
    entry = release.entry
    try:
        objects = render_chart(release.stored, release.values, release.name, release.namespace, release.skip_crds,
                               caps)
    except Exception as exc:  # the engine's own message (HelmRenderError, values errors) is the finding
        entry.status, entry.detail = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return []
    entry.status, entry.objects = "rendered", len(objects)
    return [(release.record, objects, release.namespace, f"helm:{release.stored.name}-{release.stored.version}")]


def _render_directory(record: ResourceRecord, report: RenderReport, base: Path) -> list[tuple[ResourceRecord,
                                                                                  list[dict[str, Any]], str, str]]:
    directory = Path(str(record.inputs.get("directory", "")))
    entry = ReleaseRender(record.urn, record.name, "unrendered", chart=f"kustomize {directory}")
    report.releases.append(entry)
    if not directory.is_absolute():
        directory = base / directory
    if not directory.is_dir():
        entry.detail = f"{directory} is not a local kustomization"
        return []
    try:
        if _remote_bases(directory):
            # kustomize would fetch them (git over the network): point them at the locked bases in the store.
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / directory.name
                missing = charts.localize(directory, local)
                if missing:
                    entry.detail = (f"remote kustomize base not in the chart store: {missing[0]} "
                                    "(`mlops-infra charts pull` stores the locked bases)")
                    return []
                objects = render_kustomize(local)
        else:
            objects = render_kustomize(directory)
    except (RenderError, OSError, subprocess.SubprocessError) as exc:
        entry.status, entry.detail = "failed", str(exc)[:300]
        return []
    entry.status, entry.objects = "rendered", len(objects)
    # pulumi-kubernetes kustomize/v2 applies the Directory's `namespace` to objects that set none (directory.go).
    return [(record, objects, str(record.inputs.get("namespace") or "default"), "kustomize")]


def _render_yaml(record: ResourceRecord, report: RenderReport, base: Path) -> list[tuple[ResourceRecord,
                                                                             list[dict[str, Any]], str, str]]:
    entry = ReleaseRender(record.urn, record.name, "unrendered", chart=record.type.rsplit(":", 1)[-1])
    report.releases.append(entry)
    try:
        objects = yaml_objects(record, base)
    except Unrenderable as exc:
        entry.detail = str(exc)
        return []
    entry.status, entry.objects = "rendered", len(objects)
    return [(record, objects, "default", "yaml")]
