"""How a chart from an upstream git repository becomes a stored chart: the one recipe that `tools/vendor_chart.py`
(which records it in the lock) and `mlops-infra charts pull` (which repeats it from the lock) both run.

The chart's folder at a commit is taken with `git archive` (or a packaged chart, a `.tgz` blob in the tree, is
unpacked), subcharts are placed under `charts/`, Helm's `.helmignore` rules are applied as `helm package` applies
them, upstream development files are dropped, and the release job's stamps are repeated. The result's
`tree_digest` is what the lock records.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ChartError(Exception):
    """A chart cannot be assembled as its recipe says (a missing file, a stamp that does not take, a dependency
    Chart.yaml declares that `charts/` lacks)."""


GIT_TIMEOUT_ENV = "MLOPS_INFRA_GIT_TIMEOUT"
DEFAULT_GIT_TIMEOUT = 300.0
"""Seconds one git command may take (a fetch over a slow link included) before it is stopped and the chart refused:
`$MLOPS_INFRA_GIT_TIMEOUT`, else this."""


def git_timeout() -> float:
    """`$MLOPS_INFRA_GIT_TIMEOUT` (seconds, > 0), else DEFAULT_GIT_TIMEOUT; a value that is not a positive number is a
    ChartError naming it."""
    raw = os.environ.get(GIT_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_GIT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ChartError(f"${GIT_TIMEOUT_ENV}={raw!r}: not a positive number of seconds")
    return value


def run_git(args: list[str], *, text: bool = False, env: Mapping[str, str] | None = None,
            pass_fds: Sequence[int] = ()) -> Any:
    """`git ARGS...` (a CompletedProcess, whatever its exit code) stopped after `git_timeout()` seconds: a ChartError
    naming the command and the setting. `pass_fds`: descriptors the git process inherits (a pull's scratch lock, so
    the kernel holds it while any git child lives, even after the pull was killed)."""
    timeout = git_timeout()
    try:
        return subprocess.run(["git", *args], capture_output=True, text=text, check=False, timeout=timeout,
                              env=None if env is None else dict(env), pass_fds=tuple(pass_fds))
    except subprocess.TimeoutExpired as e:
        raise ChartError(f"git {' '.join(args[:4])}{' ...' if len(args) > 4 else ''} timed out after {timeout:g}s "
                         f"(${GIT_TIMEOUT_ENV} sets the limit)") from e


def git_output(git_dir: str, *args: str) -> bytes:
    """`git --git-dir GIT_DIR ARGS...`'s output; a failure (an unknown ref, a path not in the tree) or a timeout is a
    ChartError."""
    done = run_git(["--git-dir", git_dir, *args])
    if done.returncode != 0:
        raise ChartError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return bytes(done.stdout)


# Paths (relative to a chart root) that no install reads: upstream chart tests, CI value sets, docs and media.
DROP_DIRS = {"tests", "unittests", "ci", "docs", "doc", "examples", "test", ".github", "img", "images", "hack"}
DROP_SUFFIXES = (".md", ".gotmpl", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".tgz", ".orig", ".rej")
KEEP_FILES = {"LICENSE", "NOTICE", "values.yaml", "values.schema.json", "Chart.yaml", "Chart.lock", ".helmignore"}


def extract(git_dir: str, ref: str, chart_dir: str, dest: Path) -> str:
    """`git archive` one folder at `ref` into `dest`; returns the commit the ref names."""
    commit = git_output(git_dir, "rev-parse", f"{ref}^{{commit}}").decode().strip()
    data = git_output(git_dir, "archive", "--format=tar", commit, chart_dir)
    prefix = chart_dir.strip("/") + "/"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if not member.name.startswith(prefix) or not (member.isfile() or member.issym()):
                continue
            rel = Path(member.name[len(prefix):])
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if member.issym():
                # a symlinked template (e.g. CRDs shared between charts): resolve it inside the archive
                link = _normal((Path(member.name).parent / member.linkname).as_posix())
                try:
                    source = tar.extractfile(tar.getmember(link))
                except KeyError:  # the link leaves the chart folder (karpenter's crds -> pkg/apis/crds): read it there
                    target.write_bytes(git_output(git_dir, "show", f"{commit}:{link}"))
                    continue
            else:
                source = tar.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())
    return commit


def extract_package(git_dir: str, ref: str, package: str, dest: Path) -> tuple[str, str]:
    """Unpack a packaged chart (a `.tgz` blob in the tree at `ref`) into `dest`; returns (commit, its sha256)."""
    commit = git_output(git_dir, "rev-parse", f"{ref}^{{commit}}").decode().strip()
    data = git_output(git_dir, "show", f"{commit}:{package}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 2 or ".." in parts or member.name.startswith("/"):
                continue
            target = dest.joinpath(*parts[1:])  # a package holds one top folder, named after the chart
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())
    return commit, "sha256:" + hashlib.sha256(data).hexdigest()


def _normal(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match syntax (what Helm's ignore rules use): `*` and `?` never cross a `/`."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def helmignore(root: Path) -> None:
    """Delete what `helm package` would leave out: Helm's pkg/ignore rules from `root/.helmignore` plus its default
    `templates/.?*`. A pattern without `/` matches the base name; with `/`, the path from the chart root; a trailing
    `/` matches directories only; `!` keeps what a later rule would not drop."""
    lines = ["templates/.?*"]
    if (root / ".helmignore").is_file():
        lines = [*(root / ".helmignore").read_text().splitlines(), *lines]
    rules = []
    for raw in lines:
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate, rule = rule.startswith("!"), rule.lstrip("!")
        must_dir, rule = rule.endswith("/"), rule.rstrip("/")
        rules.append((negate, must_dir, "/" not in rule, _glob_regex(rule)))

    def ignored(rel: str, is_dir: bool) -> bool:
        for negate, must_dir, base_only, rx in rules:
            hit = bool(rx.match(rel.rsplit("/", 1)[-1] if base_only else rel))
            if negate:
                if (must_dir and not is_dir) or not hit:
                    return True
                continue
            if (not must_dir or is_dir) and hit:
                return True
        return False

    def walk(folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            rel = path.relative_to(root).as_posix()
            if path.is_dir():
                if ignored(rel, True):
                    shutil.rmtree(path)
                elif path.parent != root / "charts":  # a subchart is packaged by its own rules
                    walk(path)
            elif ignored(rel, False):
                path.unlink()

    walk(root)
    for sub in sorted((root / "charts").glob("*/Chart.yaml")):
        helmignore(sub.parent)


def _version_fits(constraint: str, version: str) -> bool:
    """An exact pin or a `*`/`x` wildcard per part (`0.12.*`); a range (`^`, `~`, `>=`) is not judged here."""
    want, have = constraint.strip().lstrip("v"), version.strip().lstrip("v")
    if any(c in want for c in "^~<>=| "):
        return True
    parts, got = want.split("."), have.split(".")
    return all(w in ("*", "x", "X") or (i < len(got) and w == got[i]) for i, w in enumerate(parts)) and (
        len(parts) == len(got) or parts[-1] in ("*", "x", "X"))


def unpack_packaged(root: Path) -> list[dict[str, str]]:
    """Unpack each `charts/*.tgz` the parent's tree carries into `charts/<its top folder>/`."""
    found = []
    for tgz in sorted((root / "charts").glob("*.tgz")):
        with tarfile.open(tgz) as tar:
            names = {m.name.split("/", 1)[0] for m in tar.getmembers()}
            if len(names) != 1 or any(".." in m.name.split("/") or m.name.startswith("/") for m in tar.getmembers()):
                raise ChartError(f"{tgz.name} is not one chart folder")
            sub = names.pop()
            tar.extractall(root / "charts", filter="data")
        tgz.unlink()
        found.append({"name": sub, "packaged": f"charts/{tgz.name}"})
    return found


def stamp(root: Path, spec: str) -> dict[str, str]:
    """`FILE:a.b.c=VALUE`: set the scalar at a.b.c in root/FILE by editing its one line (comments stay)."""
    file, rest = spec.split(":", 1)
    key, value = rest.split("=", 1)
    path = root / file
    lines = path.read_text().splitlines()
    start, end, indent, hit = 0, len(lines), -1, -1
    for part in key.split("."):
        rx = re.compile(rf"^(\s*){re.escape(part)}:(\s|$)")
        hit = next((i for i in range(start, end) if (m := rx.match(lines[i])) and len(m.group(1)) > indent), -1)
        if hit < 0 and "." not in key:  # a top-level key the release job adds (`helm package --app-version`)
            lines.append(f"{key}: placeholder")
            hit = len(lines) - 1
        elif hit < 0:
            raise ChartError(f"--stamp {spec}: {part!r} not found in {file}")
        indent = len(lines[hit]) - len(lines[hit].lstrip())
        start = hit + 1
        end = next((i for i in range(start, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")
                    and len(lines[i]) - len(lines[i].lstrip()) <= indent), end)
    old = lines[hit].split(":", 1)[1].split(" #", 1)[0].strip() if not lines[hit].endswith(": placeholder") else ""
    lines[hit] = f"{' ' * indent}{key.rsplit('.', 1)[-1]}: {json.dumps(value)}"
    path.write_text("\n".join(lines) + "\n")
    node = yaml.safe_load(path.read_text())
    for part in key.split("."):
        node = node[part]
    if node != value:
        raise ChartError(f"--stamp {spec} did not take (reads {node!r})")
    return {"file": file, "key": key, "was": old, "now": value}


def missing_dependencies(root: Path) -> list[str]:
    """Dependencies Chart.yaml declares with no chart under charts/ (or one at another version), recursively."""
    meta = yaml.safe_load((root / "Chart.yaml").read_text()) or {}
    missing = []
    for dep in meta.get("dependencies") or []:
        folder = root / "charts" / dep["name"]
        if not (folder / "Chart.yaml").is_file():
            missing.append(f"{root.name}: {dep['name']} {dep.get('version', '')}")
            continue
        found = str((yaml.safe_load((folder / "Chart.yaml").read_text()) or {}).get("version", ""))
        if not _version_fits(str(dep.get("version", "*")), found):
            missing.append(f"{root.name}: {dep['name']} {dep.get('version')} (charts/ holds {found})")
        missing += missing_dependencies(folder)
    return missing


def strip(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        rel = path.relative_to(root)
        in_templates = "templates" in rel.parts or "crds" in rel.parts
        read_by_templates = "templates" in rel.parts or "files" in rel.parts  # `.Files.Get` reads under files/
        if path.is_dir():
            if path.name in DROP_DIRS and not in_templates and path.parent.name != "charts":
                shutil.rmtree(path)
            continue
        if path.name in KEEP_FILES:
            continue
        if path.suffix.lower() in DROP_SUFFIXES and not read_by_templates:
            path.unlink()



@dataclass(frozen=True)
class SubchartSource:
    """A subchart taken from its own repository at a ref, placed at `charts/<name>/`."""

    name: str
    repository: str
    """owner/name upstream"""
    ref: str
    path: str


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a stored chart's files, as `tools/vendor_chart.py`'s arguments and the lock give it."""

    repository: str
    """owner/name upstream"""
    ref: str
    """the git ref (tag, branch, commit) the chart is taken at; a pull takes the lock's commit"""
    chart_dir: str
    """the chart's folder in the tree at `ref`, or with `package` its `.tgz`"""
    version: str
    package: bool
    drop: tuple[str, ...]
    subcharts: tuple[SubchartSource, ...]
    stamp_version: bool
    stamp_app_version: str
    """'' for none"""
    stamps: tuple[str, ...]
    """`FILE:dotted.key=VALUE` each"""

    @classmethod
    def from_lock(cls, entry: Mapping[str, Any]) -> Recipe:
        """The recipe a lock entry records, taken at its commit (subcharts at theirs)."""
        source = entry["source"]
        return cls(
            repository=source["repository"], ref=source["commit"], chart_dir=source["path"], version=entry["version"],
            package="package_sha256" in source, drop=tuple(source.get("dropped", ())),
            subcharts=tuple(SubchartSource(s["name"], s["repository"], s["commit"], s["path"])
                            for s in source["subcharts"] if "commit" in s),  # the rest are unpacked from charts/*.tgz
            stamp_version=source["stamped"] is not None, stamp_app_version=source.get("stampAppVersion", ""),
            stamps=tuple(f"{s['file']}:{s['key']}={s['now']}" for s in source.get("stamps", ())))


@dataclass(frozen=True)
class Assembled:
    """What assembling found, for the lock: the commits the refs named, the package's sha256, what was stamped."""

    commit: str
    package_sha256: str
    """'' unless the recipe takes a package"""
    subcharts: list[dict[str, str]]
    stamps: list[dict[str, str]]
    declared_version: str
    """Chart.yaml's version before any stamp"""
    declared_app_version: str | None


# long: one recipe read top to bottom, in the order the release jobs apply it: take, drop, subcharts, ignore rules,
# stamps, checks
def assemble(recipe: Recipe, git_dirs: Mapping[str, str], root: Path) -> Assembled:
    """Build the chart into `root` (which must not exist) from `git_dirs` (repository -> a git dir holding the refs).

    Raises ChartError when the recipe does not apply to the tree (a missing path, a stamp that does not take, a
    declared dependency missing from `charts/`, a Chart.yaml version that is not the pinned one and is not stamped).
    """
    git_dir = git_dirs[recipe.repository]
    package_sha = ""
    if recipe.package:
        commit, package_sha = extract_package(git_dir, recipe.ref, recipe.chart_dir, root)
    else:
        commit = extract(git_dir, recipe.ref, recipe.chart_dir, root)
    for rel in recipe.drop:
        path = root / rel
        if not path.exists():
            raise ChartError(f"--drop {rel}: not in {recipe.chart_dir} at {recipe.ref}")
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    subcharts = []
    for sub in recipe.subcharts:
        sub_root = root / "charts" / sub.name
        if sub_root.exists():
            shutil.rmtree(sub_root)
        sub_commit = extract(git_dirs[sub.repository], sub.ref, sub.path, sub_root)
        subcharts.append({"name": sub.name, "repository": sub.repository, "ref": sub.ref, "commit": sub_commit,
                          "path": sub.path})
    chart_yaml = root / "Chart.yaml"
    if not chart_yaml.exists():
        raise ChartError(f"{recipe.chart_dir} at {recipe.ref} has no Chart.yaml")
    subcharts += unpack_packaged(root)
    helmignore(root)
    strip(root)
    stamps = [stamp(root, spec) for spec in recipe.stamps]
    missing = missing_dependencies(root)
    if missing:
        raise ChartError(f"dependencies missing under charts/ (pass --subchart): {', '.join(missing)}")
    text = chart_yaml.read_text()
    declared = next((line.split(":", 1)[1].strip().strip("'\"") for line in text.splitlines()
                     if line.startswith("version:")), "")
    if declared.lstrip("v") != recipe.version.lstrip("v"):
        if not recipe.stamp_version:
            raise ChartError(f"Chart.yaml at {recipe.ref} reads version {declared!r}, not {recipe.version!r} "
                             "(--stamp-version if the release job stamps it)")
        text = "\n".join(f"version: {recipe.version}" if line.startswith("version:") else line
                         for line in text.splitlines()) + "\n"
        chart_yaml.write_text(text)
    app_declared = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                         if line.startswith("appVersion:")), None)
    if recipe.stamp_app_version:
        lines = [line for line in text.splitlines() if not line.startswith("appVersion:")]
        chart_yaml.write_text("\n".join([*lines, f"appVersion: {recipe.stamp_app_version}"]) + "\n")
    return Assembled(commit, package_sha, subcharts, stamps, declared, app_declared)
