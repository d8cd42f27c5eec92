"""The render cache and the YAML reading that rendering shares (see `plan.render`).

Nothing renders twice: results are cached by a digest of what decides them, in memory and on disk
(`$MLOPS_INFRA_CACHE`, default `~/.cache/mlops-infra/render`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

RENDER_VERSION = "7"
"""Part of every cache key: bump it when what a render produces changes (engine, splitter, hook or CRD rules), so a
cache written by an older library is never served."""


def _cache_dir() -> Path | None:
    root = os.environ.get("MLOPS_INFRA_CACHE") or str(Path.home() / ".cache" / "mlops-infra")
    path = Path(root) / "render"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


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
    """PyYAML resolving plain scalars as sigs.k8s.io/yaml (go-yaml v2, what Helm and the API server use) does, so the
    two parsers of `documents_of` agree: no `=` "value" type (a plain `=` in PromQL is the string "="); timestamps stay
    strings (go-yaml v2 decodes them into interface{} as strings); `y`/`n` are booleans; `1e3` is a float; `0o755` is
    an octal int."""

    def construct_yaml_int(self, node: Any) -> int:
        value = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if value.startswith("-") else 1
        digits = value.lstrip("+-")
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        return int(super().construct_yaml_int(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:value", "tag:yaml.org,2002:timestamp")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _tag, _pattern, _first in (
        ("tag:yaml.org,2002:bool", r"^(?:y|Y|n|N)$", "yYnN"),
        ("tag:yaml.org,2002:float", r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$", "-+0123456789"),
        ("tag:yaml.org,2002:int", r"^[-+]?0o[0-7_]+$", "-+0")):
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
_Loader.bool_values = {**yaml.SafeLoader.bool_values, "y": True, "n": False}


def _load_all(part: str) -> list[Any]:
    """PyYAML's documents of one part, as JSON would carry them (keys as strings), like the Go path's."""
    return list(json.loads(json.dumps(list(yaml.load_all(part, Loader=_Loader)), default=str)))


# Helm's releaseutil.SplitManifests: a document separator is `---` at the start of a line, whatever follows it on
# that line (cert-manager's rbac.yaml writes `---# Permission ...`, which a YAML parser reads as one document).
def _documents(text: str, source: str) -> list[dict[str, Any]]:
    return documents_of([text])[0]


def documents_of(texts: list[str]) -> list[list[dict[str, Any]]]:
    """The Kubernetes objects of each manifest text (split as Helm splits, `List` kinds expanded), parsed in one
    batch: through Go's YAML (below) when the batch is large, else PyYAML's libyaml loader."""
    parts_of = [_split(text) if "\n---" in text or text.startswith("---") else [text] for text in texts]
    flat = [part for parts in parts_of for part in parts if part.strip()]
    parsed = _parse_go(flat) if sum(map(len, flat)) >= GO_BATCH_BYTES else None
    if parsed is None:
        parsed = [_load_all(part) for part in flat]
    out: list[list[dict[str, Any]]] = []
    position = 0
    for parts in parts_of:
        docs: list[dict[str, Any]] = []
        for part in parts:
            if not part.strip():
                continue
            docs.extend(_objects(parsed[position]))
            position += 1
        out.append(docs)
    return out


def _objects(docs: list[Any]) -> Iterable[dict[str, Any]]:
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            yield from (item for item in doc.get("items") or [] if isinstance(item, dict))
        elif isinstance(doc, dict) and doc.get("kind"):
            yield doc


GO_BATCH_BYTES = 256 * 1024
"""From this size on a batch is parsed by Go: ~4x faster than libyaml plus PyYAML's Python constructor on the
charts' ~12 MB of CRDs (a prod render went from ~6 s of parsing to ~1.5 s)."""
_CONVERT = '{{- range $path, $_ := .Files.Glob "d/*" }}\n{{ $.Files.Get $path | fromYaml | toJson }}\n{{- end }}\n'


def _parse_go(parts: list[str]) -> list[list[Any]] | None:
    """Each part (one YAML document) converted by Helm's own `fromYaml | toJson` (sigs.k8s.io/yaml, the conversion
    the API server applies to YAML, so types resolve as the cluster resolves them), in one offline render of a
    throwaway chart holding the parts as files. None when the engine is unavailable; a part Go cannot parse
    (`fromYaml` returns `{"Error": ...}`) is parsed by PyYAML, which raises its own error."""
    try:
        import helm_python
    except ImportError:  # pragma: no cover - a dependency of mlops-infra
        return None
    with tempfile.TemporaryDirectory(prefix="mlops-yaml-") as tmp:
        root = Path(tmp)
        (root / "templates").mkdir()
        (root / "d").mkdir()
        (root / "Chart.yaml").write_text("apiVersion: v2\nname: yaml2json\nversion: 0.0.0\n")
        (root / "templates" / "convert.yaml").write_text(_CONVERT)
        for index, part in enumerate(parts):
            (root / "d" / f"{index:07d}.yaml").write_text(part)
        rendered = helm_python.Chart.load(str(root)).render({}, name="yaml2json", namespace="default")
    lines = [line for line in rendered["yaml2json/templates/convert.yaml"].split("\n") if line.strip()]
    if len(lines) != len(parts):
        return None
    out: list[list[Any]] = []
    for part, line in zip(parts, lines, strict=True):
        doc = json.loads(line)
        if isinstance(doc, dict) and set(doc) == {"Error"}:
            out.append(_load_all(part))
        else:
            out.append([doc])
    return out


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
