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
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mlops_infra.charts import KUSTOMIZE_DIR, LOCK, META, default_store, tree_digest
from mlops_infra.charts.kustomize_recipe import Repo, Vendor
from mlops_infra.charts.recipe import ChartError


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
        remotes[base.rstrip("/")] = Repo(git_dir, source, {})
    dest = default_store() / KUSTOMIZE_DIR / a.name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    main_repo = Repo(a.git_dir, a.source, {})
    vendor = Vendor(dest, main_repo, a.ref, remotes)
    try:
        for root in a.root:
            vendor.kustomization(main_repo, a.ref, root.strip("/"))
    except ChartError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
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
