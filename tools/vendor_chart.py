"""Vendor one Helm chart into the chart store (mlops_infra/charts/store/) from its upstream source at a release ref.

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
`--note`). `STORE.json` beside the chart records where every file came from and a digest over the stored tree.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mlops_infra.charts import META, STORE, tree_digest

# Paths (relative to a chart root) that no install reads: upstream chart tests, CI value sets, docs and media.
DROP_DIRS = {"tests", "ci", "docs", "doc", "examples", "test", ".github", "img", "images", "hack"}
DROP_SUFFIXES = (".md", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".tgz", ".orig", ".rej")
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
                link = (Path(member.name).parent / member.linkname).as_posix()
                source = tar.extractfile(_resolve(tar, link))
            else:
                source = tar.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())
    return commit


def _resolve(tar: tarfile.TarFile, path: str) -> tarfile.TarInfo:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return tar.getmember("/".join(parts))


def strip(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        rel = path.relative_to(root)
        in_templates = "templates" in rel.parts or "crds" in rel.parts
        if path.is_dir():
            if path.name in DROP_DIRS and not in_templates and path.parent.name != "charts":
                shutil.rmtree(path)
            continue
        if path.name in KEEP_FILES:
            continue
        if path.suffix.lower() in DROP_SUFFIXES and not in_templates:
            path.unlink()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chart", required=True)
    p.add_argument("--repo", required=True, help="the Release's repository URL; '' for an oci:// chart")
    p.add_argument("--version", required=True)
    p.add_argument("--source", required=True, help="upstream repository, owner/name")
    p.add_argument("--git-dir", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--chart-dir", required=True)
    p.add_argument("--subchart", action="append", default=[], help="NAME=GIT_DIR:REF:PATH:SOURCE")
    p.add_argument("--stamp-version", action="store_true")
    p.add_argument("--note", default="")
    a = p.parse_args(argv)

    name = a.chart.rstrip("/").rsplit("/", 1)[-1]
    dir_name = f"{name}-{a.version}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / dir_name
        commit = extract(a.git_dir, a.ref, a.chart_dir, root)
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
        strip(root)
        chart_yaml = root / "Chart.yaml"
        if not chart_yaml.exists():
            print(f"error: {a.chart_dir} at {a.ref} has no Chart.yaml", file=sys.stderr)
            return 2
        text = chart_yaml.read_text()
        declared = next((line.split(":", 1)[1].strip().strip("'\"") for line in text.splitlines()
                         if line.startswith("version:")), "")
        if declared.lstrip("v") != a.version.lstrip("v"):
            if not a.stamp_version:
                print(f"error: Chart.yaml at {a.ref} reads version {declared!r}, not {a.version!r} "
                      "(--stamp-version if the release job stamps it)", file=sys.stderr)
                return 2
            chart_yaml.write_text("\n".join(f"version: {a.version}" if line.startswith("version:") else line
                                            for line in text.splitlines()) + "\n")
        target = STORE / dir_name
        if target.exists():
            shutil.rmtree(target)
        STORE.mkdir(parents=True, exist_ok=True)
        shutil.copytree(root, target)
    entry = {"chart": a.chart, "repo": a.repo, "version": a.version, "dir": dir_name,
             "digest": tree_digest(target),
             "source": {"repository": a.source, "ref": a.ref, "commit": commit, "path": a.chart_dir,
                        "subcharts": subcharts, "stamped": declared if declared.lstrip("v") != a.version.lstrip("v")
                        else None, "note": a.note}}
    (target / META).write_text(json.dumps(entry, indent=2) + "\n")
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"{dir_name}: {sum(1 for f in target.rglob('*') if f.is_file())} files, {size // 1024} KiB, "
          f"{entry['digest']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
