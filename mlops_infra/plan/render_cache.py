"""The render cache and the YAML reading that rendering shares (see `plan.render`).

Nothing renders twice: results are cached by a digest of what decides them, in memory and on disk
(`$MLOPS_INFRA_CACHE`, default `~/.cache/mlops-infra/render`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


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
