"""How kustomize bases named by URL become a stored tree: from each root kustomization at a commit, every file its
references reach, in the upstream layout, with each remote base it names taken from that repository at its ref into
`remote/OWNER/REPO/REF/PATH` and the naming line rewritten to the relative path. `tools/vendor_kustomize.py`
(which records it in the lock) and `mlops-infra charts pull` (which repeats it from the lock) both run it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from . import KUSTOMIZATION_FILES, parse_remote
from .recipe import ChartError, git_output, run_git

PATH_LISTS = ("resources", "bases", "components", "crds", "configurations", "generators", "transformers",
              "validators", "patchesStrategicMerge")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads a bare `=` (kustomize's `delimiter: =`) as the `value` tag; kustomize reads a string."""


def _value_as_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:value", _value_as_string)


@dataclass
class Repo:
    """An upstream repository's git dir; `commits` maps a ref to its commit (a pull seeds it from the lock)."""

    git_dir: str
    source: str
    commits: dict[str, str]

    def commit(self, ref: str) -> str:
        if ref not in self.commits:
            self.commits[ref] = git_output(self.git_dir, "rev-parse", f"{ref}^{{commit}}").decode().strip()
        return self.commits[ref]

    def kind(self, ref: str, path: str) -> str | None:
        """'tree', 'blob' or None for `path` at `ref`."""
        out = run_git(["--git-dir", self.git_dir, "cat-file", "-t", f"{self.commit(ref)}:{path}"], text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    def read(self, ref: str, path: str) -> bytes:
        return git_output(self.git_dir, "show", f"{self.commit(ref)}:{path}")


class Vendor:
    def __init__(self, dest: Path, main: Repo, ref: str, remotes: dict[str, Repo]) -> None:
        self.dest, self.main, self.ref, self.remotes = dest, main, ref, remotes
        self.seen: set[tuple[str, str]] = set()
        self.rewritten: list[dict[str, str]] = []
        self.used_remotes: dict[str, dict[str, str]] = {}

    def local(self, repo: Repo, ref: str) -> PurePosixPath:
        """Where a repository's files go inside the vendored tree."""
        if repo is self.main:
            return PurePosixPath(".")
        return PurePosixPath("remote", repo.source, ref)

    def copy(self, repo: Repo, ref: str, path: str) -> None:
        target = self.dest / self.local(repo, ref) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(repo.read(ref, path))

    def kustomization(self, repo: Repo, ref: str, folder: str) -> None:
        if (repo.source, f"{ref}:{folder}") in self.seen:
            return
        self.seen.add((repo.source, f"{ref}:{folder}"))
        name = next((n for n in KUSTOMIZATION_FILES if repo.kind(ref, f"{folder}/{n}") == "blob"), None)
        if name is None:
            raise ChartError(f"{repo.source}@{ref}:{folder} has no kustomization file")
        text = repo.read(ref, f"{folder}/{name}").decode()
        doc: dict[str, Any] = yaml.load(text, Loader=_Loader) or {}
        for entry in _references(doc):
            if parse_remote(entry) is not None:
                local = self.remote(entry, repo, ref, folder)
                text = text.replace(entry, local)
                self.rewritten.append({"file": str(self.local(repo, ref) / folder / name), "from": entry, "to": local})
                continue
            path = os.path.normpath(f"{folder}/{entry}")
            kind = repo.kind(ref, path)
            if kind == "tree":
                self.kustomization(repo, ref, path)
            elif kind == "blob":
                self.copy(repo, ref, path)
            else:
                raise ChartError(f"{repo.source}@{ref}:{folder}/{name} names {entry!r}, which does not exist")
        target = self.dest / self.local(repo, ref) / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def remote(self, url: str, repo: Repo, ref: str, folder: str) -> str:
        """Vendor a remote base; returns the relative path that replaces its URL in `folder`'s kustomization."""
        found = parse_remote(url)
        if found is None or found.repo not in self.remotes:
            raise ChartError(f"{url}: no --remote clone for it (or no ?ref=)")
        other = self.remotes[found.repo]
        self.used_remotes[f"{found.repo}@{found.ref}"] = {"repository": other.source, "ref": found.ref,
                                                          "commit": other.commit(found.ref)}
        self.kustomization(other, found.ref, found.path)
        here = PurePosixPath(self.local(repo, ref), folder)
        there = PurePosixPath(self.local(other, found.ref), found.path)
        return os.path.relpath(there, here)


def _references(doc: dict[str, Any]) -> list[str]:
    """Every path or URL a kustomization reads (inline patches and generator literals are not paths)."""
    found: list[str] = [e for key in PATH_LISTS for e in doc.get(key) or [] if isinstance(e, str) and "\n" not in e]
    for key in ("patches", "patchesJson6902", "replacements"):
        found += [e["path"] for e in doc.get(key) or [] if isinstance(e, dict) and "path" in e]
    for key in ("configMapGenerator", "secretGenerator"):
        for gen in doc.get(key) or []:
            found += [f.split("=", 1)[-1] for f in gen.get("files") or []]
            found += list(gen.get("envs") or []) + ([gen["env"]] if gen.get("env") else [])
    if isinstance(doc.get("openapi"), dict) and "path" in doc["openapi"]:
        found.append(doc["openapi"]["path"])
    return found
