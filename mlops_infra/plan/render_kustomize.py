"""Kustomize Directories rendered as pulumi-kubernetes' kustomize/v2 Directory renders them (`kubectl kustomize`,
kustomize v5.5.0 on the machine image; see `plan.render`)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .render_cache import RENDER_VERSION, _cached, _digest, _documents


def render_kustomize(directory: Path) -> list[dict[str, Any]]:
    def produce() -> list[dict[str, Any]]:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise RenderError("kubectl (kustomize v5.5.0) is not on PATH")
        proc = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RenderError(" ".join(proc.stderr.split())[:300] or "kustomize failed")
        return [{**doc, "_template": "kustomization"} for doc in _documents(proc.stdout, str(directory))]

    # Keyed by every file of the kustomization and of each local base it reaches (`../base` lies outside it), and by
    # the kustomize that renders: an edit to either, or a new kubectl, renders again.
    roots = [directory, *_local_bases(directory)]
    tree = _digest([(str(i), p.relative_to(root).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
                    for i, root in enumerate(roots) for p in sorted(q for q in root.rglob("*") if q.is_file())])
    return _cached(_digest("kustomize", RENDER_VERSION, tree, _kubectl_version()), produce)


@lru_cache(maxsize=1)
def _kubectl_version() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return ""
    proc = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30)
    return proc.stdout.strip()


def _local_bases(directory: Path, seen: set[Path] | None = None) -> list[Path]:
    """The local directories a kustomization's `resources`/`components`/`bases` reach outside it, recursively."""
    seen = seen if seen is not None else {directory.resolve()}
    file = next((directory / n for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")
                 if (directory / n).exists()), None)
    doc = yaml.safe_load(file.read_text()) if file is not None else None
    found: list[Path] = []
    for ref in [*((doc or {}).get("resources") or []), *((doc or {}).get("components") or []),
                *((doc or {}).get("bases") or [])] if isinstance(doc, dict) else []:
        if not isinstance(ref, str) or ref.startswith(REMOTE) or not (directory / ref).is_dir():
            continue
        base = (directory / ref).resolve()
        if base in seen:
            continue
        seen.add(base)
        if not base.is_relative_to(directory.resolve()):
            found.append(base)
        found += _local_bases(base, seen)
    return found


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
