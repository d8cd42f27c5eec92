"""The chart store: every Helm chart the platform installs, at its pinned version, from upstream source.

Two parts:
- `lock.json` (committed): one entry per chart the platform pins: the chart reference and version a Release asks
  for, the repository it names (`repo`, empty for an `oci://` chart), where the files come from (`source`:
  repository, git ref, commit, path, subcharts, and any edit the upstream release job makes) and the `digest` of
  the chart's files. `tools/vendor_chart.py` writes it.
- the store itself (not committed: upstream chart sources are not redistributed in this repository): folders
  `<name>-<version>/` holding the chart as its release tag has it, plus `STORE.json`, under
  `$MLOPS_INFRA_CHART_STORE` (a path list; default `~/.cache/mlops-infra/charts`). `mlops-infra charts pull`
  fills it from the upstream repositories at the locked commits (`pull.py`; the repository's vendor tools run the
  same recipe, `recipe.py`); a stored chart is used only if its files still match its digest, and, for a locked
  chart, the lock's digest. The digest covers every file Helm can load: a tree holding a symlink (which Helm's
  loader follows, out of the digest's reach) or any other non-regular file is refused, not skipped.

`find()` answers "which stored chart does this Release install" for any program, not only the platform's.
Kustomize bases named by URL are stored the same way (`localize()`, below).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

META = "STORE.json"
LOCK = Path(__file__).parent / "lock.json"
STORE_ENV = "MLOPS_INFRA_CHART_STORE"

__all__ = ["DIGEST_FORMAT", "RemoteBase", "StoredChart", "UnsafeTree", "entries", "find", "kustomize_bases", "localize",
           "lock", "parse_remote", "store_problems", "store_roots", "tree_digest", "tree_refusal", "why_missing"]


def store_roots() -> list[Path]:
    """The store's folders: `$MLOPS_INFRA_CHART_STORE` (a path list), else `~/.cache/mlops-infra/charts`."""
    raw = os.environ.get(STORE_ENV)
    if raw:
        return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
    return [Path.home() / ".cache" / "mlops-infra" / "charts"]


def default_store() -> Path:
    return store_roots()[0]


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


DIGEST_FORMAT = "2"
"""What `tree_digest` covers, versioned: part of every render cache key (`plan.render_cache`), so that a render cached
under an older coverage (format 1 skipped every nested `STORE.json` and the insides of symlinked folders) is never
served again. Bump it whenever the digest's coverage changes."""


class UnsafeTree(Exception):
    """A stored tree holds what no digest can vouch for: a symlink (Helm's loader follows it wherever it points) or a
    file that is neither a regular file nor a folder. Such a tree is refused, never used."""


def _files(root: Path) -> list[tuple[tuple[str, ...], Path]]:
    """(relative parts, path) of every regular file under `root` but the root's own `STORE.json`; refuses a symlink or
    a special file anywhere below `root` (lstat: nothing is followed)."""
    found: list[tuple[tuple[str, ...], Path]] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as listing:
            for item in listing:
                path = Path(item.path)
                if item.is_symlink():
                    raise UnsafeTree(f"{path} is a symlink (to {os.readlink(path)}): a stored tree holds none")
                if item.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif item.is_file(follow_symlinks=False):
                    if not (folder == root and item.name == META):
                        found.append((path.relative_to(root).parts, path))
                else:
                    raise UnsafeTree(f"{path} is neither a regular file nor a folder: a stored tree holds none")
    return sorted(found)


def tree_digest(root: Path) -> str:
    """sha256 over every file's relative path and content, in path order (a renamed or edited file changes it).

    Every regular file counts (a `STORE.json` below the root as well: Helm loads it), but the root's own `STORE.json`,
    which records the digest. Raises UnsafeTree if the tree holds a symlink or a special file."""
    outer = hashlib.sha256()
    for parts, file in _files(root):
        outer.update("/".join(parts).encode() + b"\0")
        outer.update(hashlib.sha256(file.read_bytes()).digest())
    return "sha256:" + outer.hexdigest()


def tree_refusal(root: Path, digest: str) -> str | None:
    """Why the tree at `root` is not the one `digest` names (None: it is): a symlink or special file, or other files."""
    try:
        actual = tree_digest(root)
    except UnsafeTree as e:
        return str(e)
    except OSError as e:
        return f"cannot read it: {e}"
    return None if actual == digest else f"its files give {actual}, not {digest}"


def _key(chart: str, repo: str, version: str) -> tuple[str, str, str]:
    return chart, repo.rstrip("/"), version[1:] if version.startswith("v") else version


def lock() -> dict[tuple[str, str, str], dict[str, Any]]:
    """(chart, repo, version) -> the committed lock entry."""
    if not LOCK.exists():
        return {}
    return {_key(e["chart"], e["repo"], e["version"]): e for e in json.loads(LOCK.read_text())["charts"]}


@lru_cache(maxsize=8)
def _scan(roots: tuple[Path, ...]) -> tuple[tuple[StoredChart, ...], tuple[tuple[tuple[str, str, str], str], ...]]:
    found: list[StoredChart] = []
    problems: list[tuple[tuple[str, str, str], str]] = []
    locked = lock()
    for root in roots:
        for meta in sorted(root.glob(f"*/{META}")):
            e = json.loads(meta.read_text())
            entry = StoredChart(chart=e["chart"], repo=e["repo"], version=e["version"], path=meta.parent,
                                digest=e["digest"], source=e["source"])
            key = _key(entry.chart, entry.repo, entry.version)
            try:
                actual = tree_digest(meta.parent)
            except (UnsafeTree, OSError) as exc:
                problems.append((key, f"{meta.parent}: refused: {exc} (`mlops-infra charts pull` replaces it)"))
                continue
            expected = locked.get(key, {}).get("digest", entry.digest)
            if actual != entry.digest or actual != expected:
                problems.append((key, f"{meta.parent}: files do not match the "
                                      f"{'lock' if actual == entry.digest else 'store'} digest "
                                      "(`mlops-infra charts pull` replaces it)"))
                continue
            found.append(entry)
    return tuple(found), tuple(problems)


def entries() -> tuple[StoredChart, ...]:
    """Every usable stored chart (files matching their digest) under the store roots."""
    return _scan(tuple(store_roots()))[0]


def store_problems() -> tuple[str, ...]:
    """Why a stored chart was skipped: its files do not match its store or lock digest, or its tree holds a symlink."""
    return tuple(message for _, message in _scan(tuple(store_roots()))[1])


def why_missing(chart: str, repo: str | None, version: str) -> str:
    """Why `find(chart, repo, version)` found nothing, and what fills the store: a message for a plan's reader."""
    wanted = _key(chart, repo or "", version)
    refused = [message for key, message in _scan(tuple(store_roots()))[1] if key == wanted]
    if refused:
        return "; ".join(refused)
    if wanted in lock():
        return "`mlops-infra charts pull` stores it (it is in mlops-infra's chart lock)"
    return ("it is not in mlops-infra's chart lock, so `mlops-infra charts pull` cannot fetch it: store it under "
            f"${STORE_ENV} with its {META}")


def find(chart: str, repo: str | None, version: str | None) -> StoredChart | None:
    """The stored chart a Release of (`chart`, `repo`, `version`) installs, or None.

    Helm matches `--version 0.5.6` to a chart version `v0.5.6` and back, so a leading `v` is not significant.
    A chart named inside an OCI reference (`oci://host/path/name`) matches on the whole reference.
    """
    if not version:
        return None
    wanted = _key(chart, repo or "", version)
    return next((e for e in entries() if _key(e.chart, e.repo, e.version) == wanted), None)


# Kustomize bases: a kustomization that names upstream bases by URL (`https://github.com/OWNER/REPO//PATH?ref=TAG`)
# cannot be rendered offline. `tools/vendor_kustomize.py` (and `mlops-infra charts pull`, from the lock) stores the
# files those bases reach, at the tag, under
# `<store>/kustomize/<name>/` (the upstream layout) and records them in lock.json's `kustomize` list; `localize()`
# copies a kustomization with each such URL pointed at its stored base, for `kubectl kustomize` to render.
KUSTOMIZE_DIR = "kustomize"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class RemoteBase:
    repo: str
    """`https://github.com/OWNER/REPO`"""
    path: str
    ref: str


def parse_remote(url: str) -> RemoteBase | None:
    """The repository, path and ref a kustomize remote resource names, or None for a local path."""
    if "://" not in url and not url.startswith("github.com/"):
        return None
    parsed = urlparse(url if "://" in url else f"https://{url}")
    parts = [p for p in parsed.path.strip("/").split("/") if p]
    ref = parse_qs(parsed.query).get("ref", [""])[0]
    if len(parts) < 2 or not ref:
        return None
    repo = parts[1].removesuffix(".git")
    return RemoteBase(f"{parsed.scheme}://{parsed.netloc}/{parts[0]}/{repo}", "/".join(parts[2:]), ref)


def kustomize_bases() -> dict[tuple[str, str], Path]:
    """(repository URL, ref) -> the stored tree of every locked base whose files match the lock's digest."""
    if not LOCK.exists():
        return {}
    found: dict[tuple[str, str], Path] = {}
    for entry in json.loads(LOCK.read_text()).get(KUSTOMIZE_DIR, []):
        for root in store_roots():
            folder = root / KUSTOMIZE_DIR / entry["name"]
            if (folder / META).is_file() and tree_refusal(folder, entry["digest"]) is None:
                found[(entry["url"], entry["source"]["ref"])] = folder
                break
    return found


def localize(directory: Path, dest: Path) -> list[str]:
    """Copy the kustomization `directory` to `dest`, its remote bases pointed at their stored trees.

    Returns the remote bases that are not stored (then `dest` still names them by URL and cannot render offline).
    """
    shutil.copytree(directory, dest, dirs_exist_ok=True)
    stored = kustomize_bases()
    missing: list[str] = []
    for path in sorted(p for p in dest.rglob("*") if p.name in KUSTOMIZATION_FILES):
        text = path.read_text()
        for line in text.splitlines():
            entry = line.strip().removeprefix("- ").strip().strip("'\"")
            remote = parse_remote(entry)
            if remote is None:
                continue
            base = stored.get((remote.repo, remote.ref))
            if base is None or not (base / remote.path).is_dir():
                missing.append(entry)
                continue
            # kustomize refuses an absolute root: the stored base, relative to this kustomization
            text = text.replace(entry, os.path.relpath(base / remote.path, path.parent))
        path.write_text(text)
    return missing
