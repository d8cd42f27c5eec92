"""The chart store: every Helm chart the platform installs, vendored at its pinned version from upstream source.

Each stored chart is a folder `store/<name>-<version>/` holding the chart as upstream tagged it plus `STORE.json`:
the chart reference and version a Release asks for, the repository a Release names (`repo`, empty for an `oci://`
chart), where the files came from (`source`: repository, git ref, commit, path, and any subcharts assembled from
elsewhere) and a `digest` over the chart's files. `tools/vendor_chart.py` writes both;
`find()` answers "is this Release's chart stored" for any program, not only the platform's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

STORE = Path(__file__).parent / "store"
META = "STORE.json"


@dataclass(frozen=True)
class StoredChart:
    chart: str
    """The chart reference a Release names: a chart name, or a full `oci://...` reference."""
    repo: str
    version: str
    path: Path
    digest: str
    source: dict[str, Any]

    @property
    def name(self) -> str:
        return self.chart.rstrip("/").rsplit("/", 1)[-1]


def tree_digest(root: Path) -> str:
    """sha256 over every file's relative path and content, in path order (a renamed or edited file changes it)."""
    outer = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.name != META):
        outer.update(file.relative_to(root).as_posix().encode() + b"\0")
        outer.update(hashlib.sha256(file.read_bytes()).digest())
    return "sha256:" + outer.hexdigest()


def _normal_repo(repo: str) -> str:
    return repo.rstrip("/")


def _version_key(version: str) -> str:
    return version[1:] if version.startswith("v") else version


@lru_cache(maxsize=1)
def entries() -> tuple[StoredChart, ...]:
    found = []
    for meta in sorted(STORE.glob(f"*/{META}")):
        e = json.loads(meta.read_text())
        found.append(StoredChart(chart=e["chart"], repo=e["repo"], version=e["version"], path=meta.parent,
                                 digest=e["digest"], source=e["source"]))
    return tuple(found)


def find(chart: str, repo: str | None, version: str | None) -> StoredChart | None:
    """The stored chart a Release of (`chart`, `repo`, `version`) installs, or None.

    Helm matches `--version 0.5.6` to a chart version `v0.5.6` and back, so a leading `v` is not significant.
    A chart named inside an OCI reference (`oci://host/path/name`) matches on the whole reference.
    """
    if not version:
        return None
    for entry in entries():
        if (entry.chart == chart and _normal_repo(entry.repo) == _normal_repo(repo or "")
                and _version_key(entry.version) == _version_key(version)):
            return entry
    return None
