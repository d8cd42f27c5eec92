"""Vendor the upstream kustomize bases a kustomization names by URL, at their ref, into the chart store
($MLOPS_INFRA_CHART_STORE/kustomize/<name>/, not committed) and record them in mlops_infra/charts/lock.json, so
`kubectl kustomize` renders offline (`mlops_infra.charts.localize`).

    python tools/vendor_kustomize.py --name kubeflow-pipelines-2.17.0 --source kubeflow/pipelines \
        --url https://github.com/kubeflow/pipelines --git-dir "$MIRROR/kubeflow+pipelines/repo" --ref 2.17.0 \
        --root manifests/kustomize/base/installs/generic/postgres [--root ...] \
        --remote "https://github.com/argoproj/argo-workflows=$MIRROR/argoproj+argo-workflows/repo:argoproj/argo-workflows"

Starting from each `--root` folder at `--ref`, it follows every kustomization's references (resources, components,
patches, generators' files, replacements, configurations...) and copies only the files they reach, keeping the
upstream relative layout under `<store>/kustomize/<name>/`. A remote base the upstream itself names
(`https://github.com/OWNER/REPO/PATH?ref=TAG`) is taken from the `--remote` clone at that TAG into
`remote/OWNER/REPO/TAG/PATH`, and the referring kustomization's line is rewritten to that relative path (the one
change made to upstream files; STORE.json lists each). STORE.json records repository, ref, commit, roots, every
remote and a digest over the stored tree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mlops_infra.charts import KUSTOMIZATION_FILES, KUSTOMIZE_DIR, LOCK, META, default_store, parse_remote, tree_digest

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
    git_dir: str
    source: str
    commits: dict[str, str] = field(default_factory=dict)

    def commit(self, ref: str) -> str:
        if ref not in self.commits:
            self.commits[ref] = _git(self.git_dir, "rev-parse", f"{ref}^{{commit}}").decode().strip()
        return self.commits[ref]

    def kind(self, ref: str, path: str) -> str | None:
        """'tree', 'blob' or None for `path` at `ref`."""
        out = subprocess.run(["git", "--git-dir", self.git_dir, "cat-file", "-t", f"{self.commit(ref)}:{path}"],
                             capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    def read(self, ref: str, path: str) -> bytes:
        return _git(self.git_dir, "show", f"{self.commit(ref)}:{path}")


def _git(git_dir: str, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True, check=True).stdout


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
            raise SystemExit(f"error: {repo.source}@{ref}:{folder} has no kustomization file")
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
                raise SystemExit(f"error: {repo.source}@{ref}:{folder}/{name} names {entry!r}, which does not exist")
        target = self.dest / self.local(repo, ref) / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def remote(self, url: str, repo: Repo, ref: str, folder: str) -> str:
        """Vendor a remote base; returns the relative path that replaces its URL in `folder`'s kustomization."""
        found = parse_remote(url)
        if found is None or found.repo not in self.remotes:
            raise SystemExit(f"error: {url}: no --remote clone for it (or no ?ref=)")
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="folder under mlops_infra/charts/kustomize/")
    p.add_argument("--source", required=True, help="upstream repository, owner/name")
    p.add_argument("--url", required=True, help="the repository URL kustomizations name (https://github.com/o/n)")
    p.add_argument("--git-dir", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--root", action="append", required=True, help="a kustomization folder to start from")
    p.add_argument("--remote", action="append", default=[], help="URL_BASE=GIT_DIR:OWNER/NAME")
    p.add_argument("--note", default="")
    a = p.parse_args(argv)

    remotes: dict[str, Repo] = {}
    for spec in a.remote:
        base, rest = spec.split("=", 1)
        git_dir, source = rest.rsplit(":", 1)
        remotes[base.rstrip("/")] = Repo(git_dir, source)
    dest = default_store() / KUSTOMIZE_DIR / a.name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    main_repo = Repo(a.git_dir, a.source)
    vendor = Vendor(dest, main_repo, a.ref, remotes)
    for root in a.root:
        vendor.kustomization(main_repo, a.ref, root.strip("/"))
    entry = {"name": a.name, "url": a.url.rstrip("/"), "digest": tree_digest(dest),
             "source": {"repository": a.source, "ref": a.ref, "commit": main_repo.commit(a.ref), "paths": a.root,
                        "remotes": list(vendor.used_remotes.values()), "rewritten": vendor.rewritten,
                        "note": a.note}}
    (dest / META).write_text(json.dumps(entry, indent=2) + "\n")
    # The lock (committed) records what was stored; the upstream files stay in the store, outside the repository.
    locked = json.loads(LOCK.read_text()) if LOCK.exists() else {"charts": []}
    locked[KUSTOMIZE_DIR] = sorted([e for e in locked.get(KUSTOMIZE_DIR, []) if e["name"] != a.name] + [entry],
                                   key=lambda e: str(e["name"]))
    LOCK.write_text(json.dumps(locked, indent=2) + "\n")
    files = [f for f in dest.rglob("*") if f.is_file()]
    print(f"{a.name}: {len(files)} files, {sum(f.stat().st_size for f in files) // 1024} KiB, {entry['digest']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
