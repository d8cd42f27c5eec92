"""Render what the cluster receives: every Helm release and kustomize Directory of a plan, at its pin, offline.

A `kubernetes:helm.sh/v3:Release` whose chart is in the chart store (`mlops_infra.charts`, matched on chart, repo and
version, for any program) is rendered with Helm v4's engine (helm-python-sdk: `Chart.load(dir).render(values,
name=, namespace=, is_install=True)`; `lookup` returns nothing) with the values the plan resolved, the release name
and namespace the install would use. Its CRDs (`crds/`, installed by Helm before the templates unless `skipCrds`) and
every rendered object join the inventory as children of the release: type `kubernetes:<group/version>:<Kind>`, inputs
the whole object (namespace filled in as Helm's install would), `options.rendered` naming the release. Helm test
hooks are left out (`helm install` never creates them); other hooks are kept and marked.

A `kubernetes:kustomize/v2:Directory` is rendered with `kubectl kustomize` (kustomize v5.5.0 on the machine image).

Nothing renders twice: results are cached by chart digest + values digest, in memory and on disk
(`$MLOPS_INFRA_CACHE`, default `~/.cache/mlops-infra/render`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .. import charts
from .inventory import Inventory, ResourceRecord
from .names import k8s_auto_name

RELEASE = "kubernetes:helm.sh/v3:Release"
DIRECTORY = "kubernetes:kustomize/v2:Directory"
CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
HELM_RELEASE_NAME_LIMIT = 53
RENDER_VERSION = "4"
"""Part of every cache key: bump it when what a render produces changes (engine, splitter, hook or CRD rules), so a
cache written by an older library is never served."""

# Kinds the API server serves cluster-scoped (Kubernetes 1.35 built-ins); a custom kind's scope comes from its CRD.
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PriorityClass", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "IngressClass", "RuntimeClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "APIService",
    "CertificateSigningRequest", "FlowSchema", "PriorityLevelConfiguration", "ComponentStatus", "IPAddress",
    "ServiceCIDR", "DeviceClass", "VolumeAttributesClass",
})


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


def _cache_dir() -> Path | None:
    root = os.environ.get("MLOPS_INFRA_CACHE") or str(Path.home() / ".cache" / "mlops-infra")
    path = Path(root) / "render"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


@lru_cache(maxsize=64)
def _load_chart(path: str) -> Any:
    import helm_python  # a 75 MB native engine: imported only when a release is rendered

    return helm_python.Chart.load(path)


_MEMORY: dict[str, list[dict[str, Any]]] = {}


def _cached(key: str, produce: Any) -> list[dict[str, Any]]:
    if key in _MEMORY:
        return _MEMORY[key]
    cache = _cache_dir()
    file = cache / f"{key}.json" if cache else None
    if file is not None and file.exists():
        try:
            objects: list[dict[str, Any]] = json.loads(file.read_text())
            _MEMORY[key] = objects
            return objects
        except (OSError, ValueError):
            pass
    objects = produce()
    _MEMORY[key] = objects
    if file is not None:
        tmp = file.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(objects))
            tmp.replace(file)
        except OSError:
            pass
    return objects


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml: ~10x faster
    """YAML 1.1's `=` "value" type is a PyYAML quirk the API server (YAML 1.2, sigs.k8s.io/yaml) does not have:
    a plain `=` (e.g. in PromQL embedded in a rule) is the string "="."""


_Loader.yaml_implicit_resolvers = {k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:value"]
                                   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


# Helm's releaseutil.SplitManifests: a document separator is `---` at the start of a line, whatever follows it on
# that line (cert-manager's rbac.yaml writes `---# Permission ...`, which a YAML parser reads as one document).
def _documents(text: str, source: str) -> Iterable[dict[str, Any]]:
    if "\n---" not in text and not text.startswith("---"):
        yield from _parsed(text)
        return
    for part in _split(text):
        if part.strip():
            yield from _parsed(part)


def _split(text: str) -> list[str]:
    """Helm's SplitManifests (`(?:^|\\s*\\n)---\\s*`), line by line (the regex backtracks on large manifests): a line
    starting with `---` ends a document; whatever follows the dashes on that line starts the next one."""
    parts: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.startswith("---"):
            parts.append("\n".join(current))
            current = [line[3:].lstrip()]
        else:
            current.append(line)
    parts.append("\n".join(current))
    return parts


def _parsed(text: str) -> Iterable[dict[str, Any]]:
    for doc in yaml.load_all(text, Loader=_Loader):
        if isinstance(doc, dict) and doc.get("kind") == "List":
            yield from (item for item in doc.get("items") or [] if isinstance(item, dict))
        elif isinstance(doc, dict) and doc.get("kind"):
            yield doc


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


def render_chart(stored: charts.StoredChart, values: dict[str, Any], release_name: str, namespace: str,
                 skip_crds: bool = False) -> list[dict[str, Any]]:
    """The objects `helm install` would create for this release: CRDs first (unless skipped), then templates in
    template order, test hooks left out. Each object carries `_template` (its source file) for messages."""

    def produce() -> list[dict[str, Any]]:
        chart = _load_chart(str(stored.path))
        out: list[dict[str, Any]] = []
        if not skip_crds:
            disabled = _disabled_subcharts(chart, values)
            for crd in chart.crds:
                if any(crd["filename"].startswith(prefix) for prefix in disabled):
                    continue  # Helm installs the CRDs of enabled dependencies only (ProcessDependencies first)
                for doc in _documents(crd["data"], crd["filename"]):
                    out.append({**doc, "_template": crd["filename"]})
        rendered = chart.render(values, name=release_name, namespace=namespace, is_install=True)
        for template in sorted(rendered):
            if not template.endswith((".yaml", ".yml", ".tpl", ".json")) or template.endswith("NOTES.txt"):
                continue
            for doc in _documents(rendered[template], template):
                hook = ((doc.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", "")
                if {h.strip() for h in str(hook).split(",")} & TEST_HOOKS:
                    continue
                out.append({**doc, "_template": template})
        return out

    return _cached(_digest("helm", RENDER_VERSION, stored.digest, values, release_name, namespace, skip_crds), produce)


def render_kustomize(directory: Path) -> list[dict[str, Any]]:
    def produce() -> list[dict[str, Any]]:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise RenderError("kubectl (kustomize v5.5.0) is not on PATH")
        proc = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RenderError(" ".join(proc.stderr.split())[:300] or "kustomize failed")
        return [{**doc, "_template": "kustomization"} for doc in _documents(proc.stdout, str(directory))]

    files = sorted(p for p in directory.rglob("*") if p.is_file())
    tree = _digest([(p.relative_to(directory).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files])
    return _cached(_digest("kustomize", RENDER_VERSION, tree), produce)


class RenderError(Exception):
    pass


REMOTE = ("http://", "https://", "git@", "ssh://", "github.com/", "gitlab.com/")


def _remote_bases(directory: Path, seen: set[Path] | None = None) -> list[str]:
    """Remote `resources`/`components` of a kustomization and of the local bases it includes."""
    seen = seen if seen is not None else set()
    if directory in seen:
        return []
    seen.add(directory)
    file = next((directory / n for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")
                 if (directory / n).exists()), None)
    if file is None:
        return []
    doc = yaml.safe_load(file.read_text()) or {}
    found: list[str] = []
    for ref in [*(doc.get("resources") or []), *(doc.get("components") or []), *(doc.get("bases") or [])]:
        if not isinstance(ref, str):
            continue
        if ref.startswith(REMOTE):
            found.append(ref)
        elif (directory / ref).is_dir():
            found += _remote_bases((directory / ref).resolve(), seen)
    return found


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
    urn_name = f"{release.name}:{local}" if kind_label == "kustomize" else f"{release.name}/{local}"
    return ResourceRecord(
        urn=f"urn:pulumi:{stack}::{project}::{qualified}${typ}::{urn_name}", type=typ, name=object_name,
        parent=release.urn, custom=True, id=None, inputs=obj,
        options={"rendered": {"by": kind_label, "release": release.urn}, "provider": release.options.get("provider"),
                 "dependsOn": [], "protect": False},
        dependencies=[release.urn])


def render_inventory(inventory: Inventory) -> RenderReport:
    """Add every release's and Directory's rendered objects to `inventory` (in place); say what was rendered."""
    report = RenderReport()
    pending: list[tuple[ResourceRecord, list[dict[str, Any]], str, str]] = []
    for record in list(inventory.resources):
        if record.type == RELEASE:
            pending.extend(_render_release(record, report))
        elif record.type == DIRECTORY:
            pending.extend(_render_directory(record, report))
    scopes = _scopes(inventory, (o for _, objs, _, _ in pending for o in objs))
    for record, objects, namespace, label in pending:
        inventory.resources.extend(_record(record, obj, namespace, inventory.stack, inventory.project, scopes, label)
                                   for obj in objects)
    return report


def _render_release(record: ResourceRecord, report: RenderReport) -> list[tuple[ResourceRecord, list[dict[str, Any]],
                                                                               str, str]]:
    inputs = record.inputs
    chart, version = str(inputs.get("chart", "")), str(inputs.get("version", ""))
    repo = str((inputs.get("repositoryOpts") or {}).get("repo", "") or "")
    namespace = str(inputs.get("namespace") or "default")
    release_name = str(inputs.get("name") or "")
    entry = ReleaseRender(record.urn, record.name, "unrendered", chart=f"{chart} {version}")
    report.releases.append(entry)
    stored = charts.find(chart, repo, version)
    if stored is None:
        entry.detail = f"chart {chart} {version} from {repo or 'OCI'} is not in the chart store"
        return []
    if not release_name:
        # pulumi-kubernetes names it `<logical name>-<8 random hex>`: render with such a name (the mock's stand-in
        # for the random part), so what depends on the name (`release: x` selectors, Service URLs) is judged as
        # the install would leave it.
        release_name = k8s_auto_name(record.type, record.name)  # the name the mock's outputs carry
        entry.detail = f"auto-named {release_name}"
    values = inputs.get("values") or {}
    try:
        objects = render_chart(stored, values, release_name, namespace, bool(inputs.get("skipCrds")))
    except Exception as exc:  # the engine's own message (HelmRenderError, values errors) is the finding
        entry.status, entry.detail = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return []
    entry.status, entry.objects = "rendered", len(objects)
    return [(record, objects, namespace, f"helm:{stored.name}-{stored.version}")]


def _render_directory(record: ResourceRecord, report: RenderReport) -> list[tuple[ResourceRecord,
                                                                                  list[dict[str, Any]], str, str]]:
    directory = Path(str(record.inputs.get("directory", "")))
    entry = ReleaseRender(record.urn, record.name, "unrendered", chart=f"kustomize {directory}")
    report.releases.append(entry)
    if not directory.is_absolute():
        directory = Path.cwd() / directory
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
                    entry.detail = f"remote kustomize base not in the chart store: {missing[0]}"
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
