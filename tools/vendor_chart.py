"""Vendor one Helm chart into the chart store ($MLOPS_INFRA_CHART_STORE, default ~/.cache/mlops-infra/charts) and
record it in mlops_infra/charts/lock.json, from its upstream source at a release ref.

    python tools/vendor_chart.py --chart kube-prometheus-stack --repo https://prometheus-community.github.io/helm-charts \
        --version 82.1.0 --source prometheus-community/helm-charts \
        --git-dir "$MIRROR/prometheus-community+helm-charts/repo" --ref kube-prometheus-stack-82.1.0 \
        --chart-dir charts/kube-prometheus-stack \
        --subchart "grafana=$MIRROR/grafana-community+helm-charts/repo:grafana-11.1.7:charts/grafana:grafana-community/helm-charts" \
        [--stamp-version] [--note "..."]

`--chart`/`--repo`/`--version` are what a Release names (`chart`, `repositoryOpts.repo`, `version`; an OCI chart is
`--chart oci://host/path/name --repo ''`). The chart's files are taken with `git archive` at `--ref`; each
`--subchart NAME=GIT_DIR:REF:PATH:SOURCE` is placed at `charts/NAME/` (a subchart the parent already carries in its
own tree is kept as is). Upstream development files are dropped (chart unit tests, CI values, docs, images);
templates, CRDs, values, schemas, `.helmignore` and licences are kept. `--stamp-version` writes `--version` into
Chart.yaml when the tag's Chart.yaml carries a placeholder that the upstream release job replaces (say so in
`--note`); `--stamp-app-version V` does the same for `appVersion` (templates default image tags to it), and
`--stamp FILE:dotted.key=VALUE` sets one scalar in any stored YAML file (a subchart's Chart.yaml or values.yaml
that its release job rewrites before `helm package`), keeping the file's comments. A packaged subchart the parent
carries (`charts/*.tgz`) is unpacked into `charts/NAME/`, as Helm's loader reads it.
Each chart's (and subchart's) own `.helmignore` is applied as `helm package` applies it, so the stored tree is what
the published package holds. A dependency that Chart.yaml declares but `charts/` lacks is an error: Helm refuses to
install such a chart. `--package` reads `--chart-dir` as a packaged chart (`.tgz`) in the tree at `--ref` (a
release branch such as `gh-pages` keeps what the release job published): its files are taken as packaged.
`--drop PATH` removes a file of the chart folder that the release job does not package (a build input).
`STORE.json` beside the chart records where every file came from and a digest over the tree.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mlops_infra.charts import LOCK, META, default_store, tree_digest

# Paths (relative to a chart root) that no install reads: upstream chart tests, CI value sets, docs and media.
DROP_DIRS = {"tests", "unittests", "ci", "docs", "doc", "examples", "test", ".github", "img", "images", "hack"}
DROP_SUFFIXES = (".md", ".gotmpl", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".tgz", ".orig", ".rej")
KEEP_FILES = {"LICENSE", "NOTICE", "values.yaml", "values.schema.json", "Chart.yaml", "Chart.lock", ".helmignore"}


def extract(git_dir: str, ref: str, chart_dir: str, dest: Path) -> str:
    """`git archive` one folder at `ref` into `dest`; returns the commit the ref names."""
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", f"{ref}^{{commit}}"], capture_output=True,
                            text=True, check=True).stdout.strip()
    data = subprocess.run(["git", "--git-dir", git_dir, "archive", "--format=tar", commit, chart_dir],
                          capture_output=True, check=True).stdout
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
                    target.write_bytes(subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{link}"],
                                                      capture_output=True, check=True).stdout)
                    continue
            else:
                source = tar.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())
    return commit



def extract_package(git_dir: str, ref: str, package: str, dest: Path) -> tuple[str, str]:
    """Unpack a packaged chart (a `.tgz` blob in the tree at `ref`) into `dest`; returns (commit, its sha256)."""
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", f"{ref}^{{commit}}"], capture_output=True,
                            text=True, check=True).stdout.strip()
    data = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{package}"], capture_output=True,
                          check=True).stdout
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
                raise SystemExit(f"error: {tgz.name} is not one chart folder")
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
            raise SystemExit(f"error: --stamp {spec}: {part!r} not found in {file}")
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
        raise SystemExit(f"error: --stamp {spec} did not take (reads {node!r})")
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


def main(argv: list[str] | None = None) -> int:
    # long: one vendoring read top to bottom: arguments, extract, subcharts, ignore rules, stamps, checks, STORE.json
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chart", required=True)
    p.add_argument("--repo", required=True, help="the Release's repository URL; '' for an oci:// chart")
    p.add_argument("--version", required=True)
    p.add_argument("--source", required=True, help="upstream repository, owner/name")
    p.add_argument("--git-dir", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--chart-dir", required=True, help="the chart's folder (with --package: its .tgz) at --ref")
    p.add_argument("--package", action="store_true", help="--chart-dir is a packaged chart (.tgz) at --ref")
    p.add_argument("--drop", action="append", default=[], help="a path of the chart folder the release leaves out")
    p.add_argument("--subchart", action="append", default=[], help="NAME=GIT_DIR:REF:PATH:SOURCE")
    p.add_argument("--stamp-version", action="store_true")
    p.add_argument("--stamp-app-version", default="", help="write this appVersion into Chart.yaml (release job's stamp)")
    p.add_argument("--stamp", action="append", default=[], help="FILE:dotted.key=VALUE (release job's stamp)")
    p.add_argument("--note", default="")
    a = p.parse_args(argv)

    name = a.chart.rstrip("/").rsplit("/", 1)[-1]
    dir_name = f"{name}-{a.version}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / dir_name
        package_sha = ""
        if a.package:
            commit, package_sha = extract_package(a.git_dir, a.ref, a.chart_dir, root)
        else:
            commit = extract(a.git_dir, a.ref, a.chart_dir, root)
        for rel in a.drop:
            path = root / rel
            if not path.exists():
                print(f"error: --drop {rel}: not in {a.chart_dir} at {a.ref}", file=sys.stderr)
                return 2
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        subcharts = []
        for spec in a.subchart:
            sub_name, rest = spec.split("=", 1)
            git_dir, ref, path, source = rest.split(":")
            sub_root = root / "charts" / sub_name
            if sub_root.exists():
                shutil.rmtree(sub_root)
            sub_commit = extract(git_dir, ref, path, sub_root)
            subcharts.append({"name": sub_name, "repository": source, "ref": ref, "commit": sub_commit,
                              "path": path})
        chart_yaml = root / "Chart.yaml"
        if not chart_yaml.exists():
            print(f"error: {a.chart_dir} at {a.ref} has no Chart.yaml", file=sys.stderr)
            return 2
        subcharts += unpack_packaged(root)
        helmignore(root)
        strip(root)
        stamps = [stamp(root, spec) for spec in a.stamp]
        missing = missing_dependencies(root)
        if missing:
            print(f"error: dependencies missing under charts/ (pass --subchart): {', '.join(missing)}", file=sys.stderr)
            return 2
        text = chart_yaml.read_text()
        declared = next((line.split(":", 1)[1].strip().strip("'\"") for line in text.splitlines()
                         if line.startswith("version:")), "")
        if declared.lstrip("v") != a.version.lstrip("v"):
            if not a.stamp_version:
                print(f"error: Chart.yaml at {a.ref} reads version {declared!r}, not {a.version!r} "
                      "(--stamp-version if the release job stamps it)", file=sys.stderr)
                return 2
            text = "\n".join(f"version: {a.version}" if line.startswith("version:") else line
                             for line in text.splitlines()) + "\n"
            chart_yaml.write_text(text)
        app_declared = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                             if line.startswith("appVersion:")), None)
        if a.stamp_app_version:
            lines = [line for line in text.splitlines() if not line.startswith("appVersion:")]
            chart_yaml.write_text("\n".join([*lines, f"appVersion: {a.stamp_app_version}"]) + "\n")
        store = default_store()
        target = store / dir_name
        if target.exists():
            shutil.rmtree(target)
        store.mkdir(parents=True, exist_ok=True)
        shutil.copytree(root, target)
    entry = {"chart": a.chart, "repo": a.repo, "version": a.version, "dir": dir_name,
             "digest": tree_digest(target),
             "source": {"repository": a.source, "ref": a.ref, "commit": commit, "path": a.chart_dir,
                        "subcharts": subcharts, "stamped": declared if declared.lstrip("v") != a.version.lstrip("v")
                        else None, **({"stampedAppVersion": app_declared} if a.stamp_app_version else {}),
                        **({"stamps": stamps} if stamps else {}),
                        **({"package_sha256": package_sha} if package_sha else {}),
                        **({"dropped": a.drop} if a.drop else {}), "note": a.note}}
    (target / META).write_text(json.dumps(entry, indent=2) + "\n")
    # The lock (committed) records what was stored; the chart files stay in the store, outside the repository.
    locked = json.loads(LOCK.read_text()) if LOCK.exists() else {"charts": []}
    locked["charts"] = sorted([e for e in locked["charts"] if e["dir"] != dir_name] + [entry], key=lambda e: e["dir"])
    LOCK.write_text(json.dumps(locked, indent=2) + "\n")
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"{dir_name}: {sum(1 for f in target.rglob('*') if f.is_file())} files, {size // 1024} KiB, "
          f"{entry['digest']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
