"""Where a custom resource's schema comes from: the CRDs the stack itself declares (its own and those rendered
from charts), then the CRD files of the vendored charts (`crds/` of a chart and its subcharts, as Helm's
`Chart.crds()` returns them, and untemplated CRD files under `templates/`).

Chart CRD files are large (KServe's InferenceService CRD is 2 MB): a file is parsed only when a custom resource
needs its group and kind, once per process; each version's schema is compiled once (crd_schema.CompiledSchema).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .core import Resource, has_unknown
from .crd_schema import CompiledSchema

CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
SUFFIXES = (".yaml", ".yml", ".json")
try:
    LOADER: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    LOADER = yaml.SafeLoader


@dataclass(frozen=True)
class CrdVersion:
    crd: str
    """The CRD's name, `<plural>.<group>`."""
    version: str
    served: bool
    source: str
    """Where the CRD came from: `stack` or a file path relative to its directory."""
    schema: Mapping[str, Any] | None = field(compare=False, repr=False)
    """The version's `openAPIV3Schema` (v1 requires one; None if a declared CRD lacks it)."""
    stamp: str = ""
    """A file CRD's modification time; "" for the stack's own (compiled() keys those by content)."""


def chart_store() -> Path | None:
    """mlops_infra's chart store (its first root, `$MLOPS_INFRA_CHART_STORE`), when mlops_infra is installed beside
    the policies and the store exists on this machine."""
    if importlib.util.find_spec("mlops_infra") is None:
        return None
    from mlops_infra.charts import default_store

    store = default_store()
    return store if store.is_dir() else None


def _crd_file(path: Path, text: str) -> bool:
    """A file Helm installs as CRDs (under a `crds/` folder), or an untemplated CRD file among the templates."""
    if "CustomResourceDefinition" not in text:
        return False
    return "crds" in path.parts or "{{" not in text


@lru_cache(maxsize=16)
def _files(directory: str, stamp: float) -> tuple[tuple[Path, frozenset[str]], ...]:
    """The CRD files under `directory` and the names they mention. Reading every file of a chart store (~24 MB) costs
    about a second, so the index is also kept on disk, keyed by every file's path, size and modification time."""
    root = Path(directory)
    candidates = sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    signature = hashlib.sha256(json.dumps(
        [directory] + [(str(p), (st := p.stat()).st_size, st.st_mtime_ns) for p in candidates]).encode()).hexdigest()
    index = cache_dir() / f"index-{signature[:40]}.json"
    with contextlib.suppress(OSError, ValueError, TypeError):
        return tuple((Path(path), frozenset(names)) for path, names in json.loads(index.read_text(encoding="utf-8")))
    found = []
    for path in candidates:
        text = path.read_text(encoding="utf-8", errors="replace")
        if _crd_file(path.relative_to(root), text):
            found.append((path, frozenset(m.group(1) for m in NAME_LINE.finditer(text))))
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
        index.parent.mkdir(parents=True, exist_ok=True)
        partial = index.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps([(str(p), sorted(n)) for p, n in found]), encoding="utf-8")
        partial.replace(index)
    return tuple(found)


NAME_LINE = re.compile(r"^\s*(?:group|kind):\s*['\"]?([\w.-]+)['\"]?\s*$", re.M)
"""`group:` and `kind:` lines: which groups and kinds a file may define, known without parsing its YAML."""


def files_of(directory: Path) -> tuple[tuple[Path, frozenset[str]], ...]:
    """(path, the groups and kinds it names) of every CRD file under `directory`, read once per process."""
    return _files(str(directory), directory.stat().st_mtime)


def cache_dir() -> Path:
    """Where parsed CRD files are kept between runs: `$MLOPS_INFRA_CACHE/crds`, default ~/.cache/mlops-infra/crds."""
    base = os.environ.get("MLOPS_INFRA_CACHE") or str(Path.home() / ".cache" / "mlops-infra")
    return Path(base) / "crds"


@lru_cache(maxsize=256)
def _parsed(path: Path, stamp: float) -> tuple[Mapping[str, Any], ...]:
    """The CRD objects of a file. YAML parsing is slow (KServe's 2 MB CRD: ~1.5 s even with libyaml), so the result
    is also kept on disk as JSON, keyed by the file's content digest (~30 ms to read back)."""
    data = path.read_bytes()
    cached = cache_dir() / f"{hashlib.sha256(data).hexdigest()}.json"
    try:
        return tuple(json.loads(cached.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    docs = yaml.load_all(data.decode("utf-8", errors="replace"), Loader=LOADER)
    found = tuple(d for d in docs if isinstance(d, Mapping) and d.get("kind") == "CustomResourceDefinition")
    with contextlib.suppress(OSError, TypeError, ValueError):  # a cache that cannot be written only costs time
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(found), encoding="utf-8")
        partial.replace(cached)
    return found


_COMPILED: dict[tuple[str, str, str, str], CompiledSchema] = {}


def compiled(entry: CrdVersion) -> CompiledSchema | None:
    """The entry's compiled schema, built on first use and kept for the process (keyed by where the CRD came from
    and when it changed, or for the stack's own CRDs by the schema's content)."""
    if entry.schema is None:
        return None
    stamp = entry.stamp or hashlib.sha1(json.dumps(entry.schema, sort_keys=True, default=str).encode()).hexdigest()
    key = (entry.source, entry.crd, entry.version, stamp)
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = CompiledSchema(entry.schema)
    return found


def normal_schema(node: Any) -> Any:
    """A schema with the Python SDK's spelling of extensions (`x_kubernetes_int_or_string`, as typed
    `JSONSchemaPropsArgs` appear in a plan) turned into the API's (`x-kubernetes-int-or-string`)."""
    if isinstance(node, list):
        return [normal_schema(n) for n in node]
    if not isinstance(node, Mapping):
        return node
    out = {}
    for key, value in node.items():
        name = str(key).replace("_", "-") if str(key).startswith("x_kubernetes_") else str(key)
        if name in ("properties", "patternProperties", "definitions") and isinstance(value, Mapping):
            out[name] = {k: normal_schema(v) for k, v in value.items()}  # field names: kept as they are
        else:
            out[name] = normal_schema(value) if isinstance(value, (Mapping, list)) and name not in ("enum", "default",
                                                                                                     "example") else value
    return out


def versions_of(crd: Mapping[str, Any], source: str, stamp: str) -> dict[tuple[str, str, str], CrdVersion]:
    """(group, kind, version) -> CrdVersion for every version of one CRD object."""
    spec: Mapping[str, Any] = crd["spec"] if isinstance(crd.get("spec"), Mapping) else {}
    names = spec.get("names")
    group, kind = spec.get("group"), names.get("kind") if isinstance(names, Mapping) else None
    name = str((crd.get("metadata") or {}).get("name") or f"{group}")
    out = {}
    for entry in spec.get("versions") or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        schema = entry["schema"].get("openAPIV3Schema") if isinstance(entry.get("schema"), Mapping) else None
        if source == "stack" and "x_kubernetes_" in json.dumps(schema, default=str):
            schema = normal_schema(schema)  # only typed (SDK-spelled) schemas need it; a chart's are the API's
        out[(str(group), str(kind), entry["name"])] = CrdVersion(
            name, entry["name"], entry.get("served") is not False, source,
            schema if isinstance(schema, Mapping) else None, stamp)
    return out


class Catalog:
    """The CRD versions a stack's custom resources are checked against (the stack's own CRDs win)."""

    def __init__(self, stack_crds: Iterable[Resource], directories: Iterable[Path]) -> None:
        self.versions: dict[tuple[str, str, str], CrdVersion] = {}
        self.kinds: set[tuple[str, str]] = set()
        self.directories = [d for d in directories if d.is_dir()]
        self.loaded: set[Path] = set()
        self.searched: set[tuple[str, str]] = set()
        for crd in stack_crds:
            if has_unknown(crd.get("spec", "versions")) or has_unknown(crd.get("spec", "group")):
                continue  # a CRD the plan cannot see whole: its resources are not judged against the store either
            self._add(versions_of(crd.props, "stack", ""), override=True)

    def _add(self, found: Mapping[tuple[str, str, str], CrdVersion], override: bool = False) -> None:
        for key, entry in found.items():
            if override or key not in self.versions:
                self.versions[key] = entry
            self.kinds.add(key[:2])

    def lookup(self, group: str, kind: str, version: str) -> CrdVersion | bool | None:
        """The CRD version; True when the CRD exists without that version; None when no CRD defines the kind."""
        if (group, kind) not in self.kinds and (group, kind) not in self.searched:
            self.searched.add((group, kind))
            self._load(group, kind)
        found = self.versions.get((group, kind, version))
        return found if found is not None else ((group, kind) in self.kinds or None)

    def _load(self, group: str, kind: str) -> None:
        for directory in self.directories:
            for path, names in files_of(directory):
                if path in self.loaded or group not in names or kind not in names:
                    continue
                self.loaded.add(path)
                stamp = path.stat().st_mtime
                source = path.relative_to(directory).as_posix()
                for crd in _parsed(path, stamp):
                    self._add(versions_of(crd, source, str(stamp)))
