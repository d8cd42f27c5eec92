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
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mlops_infra.charts import LOCK, META, default_store, tree_digest
from mlops_infra.charts.recipe import (  # noqa: F401  (the tests read the recipe's steps through this tool)
    ChartError,
    Recipe,
    SubchartSource,
    assemble,
    helmignore,
    missing_dependencies,
    stamp,
    strip,
    unpack_packaged,
)


def main(argv: list[str] | None = None) -> int:
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
    git_dirs = {a.source: a.git_dir}
    subcharts = []
    for spec in a.subchart:
        sub_name, rest = spec.split("=", 1)
        git_dir, ref, path, source = rest.split(":")
        git_dirs[source] = git_dir
        subcharts.append(SubchartSource(sub_name, source, ref, path))
    recipe = Recipe(repository=a.source, ref=a.ref, chart_dir=a.chart_dir, version=a.version, package=a.package,
                    drop=tuple(a.drop), subcharts=tuple(subcharts), stamp_version=a.stamp_version,
                    stamp_app_version=a.stamp_app_version, stamps=tuple(a.stamp))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / dir_name
        try:
            done = assemble(recipe, git_dirs, root)
        except ChartError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        store = default_store()
        target = store / dir_name
        if target.exists():
            shutil.rmtree(target)
        store.mkdir(parents=True, exist_ok=True)
        shutil.copytree(root, target)
    declared = done.declared_version
    # `charts pull` repeats this recipe from the entry (Recipe.from_lock): every argument that shapes the files is here
    entry = {"chart": a.chart, "repo": a.repo, "version": a.version, "dir": dir_name,
             "digest": tree_digest(target),
             "source": {"repository": a.source, "ref": a.ref, "commit": done.commit, "path": a.chart_dir,
                        "subcharts": done.subcharts,
                        "stamped": declared if declared.lstrip("v") != a.version.lstrip("v") else None,
                        **({"stampedAppVersion": done.declared_app_version,
                            "stampAppVersion": a.stamp_app_version} if a.stamp_app_version else {}),
                        **({"stamps": done.stamps} if done.stamps else {}),
                        **({"package_sha256": done.package_sha256} if done.package_sha256 else {}),
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
