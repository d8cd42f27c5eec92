"""`mlops-infra charts`: the chart store that `plan` and `check` render Helm releases from.

    mlops-infra charts list                  # every locked chart, and whether the store holds it verified
    mlops-infra charts verify                # exit 1 unless the store holds every locked chart with its digest
    mlops-infra charts pull [--chart NAME]   # fetch from upstream git at the locked commit, verify, store

Upstream charts are not redistributed in the wheel, so the store starts empty. `pull` needs git on PATH and
reaches `https://github.com/<owner>/<name>` unless `--mirror` (or `$MLOPS_INFRA_CHART_GIT_BASE`) names another base;
each git command stops after `$MLOPS_INFRA_GIT_TIMEOUT` seconds (default 300). Concurrent pulls into one store wait
for each other (a lock file in the store).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import fail


def register(sub: Any) -> None:
    p = sub.add_parser("charts", help="list, verify or fill the chart store (the charts plan/check render)",
                       description="The chart store holds every Helm chart the platform pins, as its lock "
                                   "(mlops_infra/charts/lock.json) records it: `pull` fetches each from its upstream "
                                   "git repository at the locked commit and stores it only if its files give the "
                                   "lock's digest.")
    action = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("list", "every locked chart with its state in the store"),
                       ("verify", "exit 1 unless the store holds each locked chart with the lock's digest"),
                       ("pull", "fetch each locked chart from upstream git, verify its digest, store it")):
        a = action.add_parser(name, help=text, description=text)
        a.add_argument("--chart", action="append", default=[], metavar="NAME",
                       help="only this chart (its name or store folder, e.g. qdrant or qdrant-1.19.0) or set of "
                            "kustomize bases (kubeflow-pipelines-2.17.0); repeatable; default: every locked one")
        if name == "pull":
            a.add_argument("--mirror", default=None, metavar="BASE",
                           help="where upstream repositories are fetched from: a URL or folder under which "
                                "<owner>/<name> is found, or a template with {owner} and {name} (default: "
                                "$MLOPS_INFRA_CHART_GIT_BASE, else https://github.com)")
            a.epilog = ("Each git command is stopped after $MLOPS_INFRA_GIT_TIMEOUT seconds (default 300), and its "
                        "chart refused. Pulls into one store run one chart at a time (a lock file in the store).")


def _selected(names: list[str]) -> list[dict[str, Any]] | str:
    """The lock entries `--chart` names (all without it), or the error naming what is unknown: the charts, then the
    kustomize bases (`kustomize/<name>`)."""
    from mlops_infra import charts
    from mlops_infra.charts.pull import folder_of

    lock = json.loads(charts.LOCK.read_text()) if charts.LOCK.exists() else {}
    locked = [*lock.get("charts", []), *lock.get(charts.KUSTOMIZE_DIR, [])]
    if not names:
        return locked
    by_name: dict[str, dict[str, Any]] = {}
    for entry in locked:
        by_name[folder_of(entry)] = entry
        by_name.setdefault(entry["name"] if "name" in entry else entry["chart"].rstrip("/").rsplit("/", 1)[-1], entry)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        return f"no locked chart named {', '.join(unknown)} (locked: {', '.join(map(folder_of, locked))})"
    picked = {folder_of(by_name[n]): by_name[n] for n in names}
    return list(picked.values())


def _state(entry: dict[str, Any], roots: list[Path]) -> tuple[str, Path | None]:
    from mlops_infra.charts import META, UnsafeTree, tree_digest
    from mlops_infra.charts.pull import folder_of, stored_copy

    verified = stored_copy(entry, roots)
    if verified is not None:
        return "stored", verified
    present = next((root / folder_of(entry) for root in roots if (root / folder_of(entry) / META).is_file()), None)
    if present is None:
        return "missing", None
    try:
        tree_digest(present)
    except (UnsafeTree, OSError) as e:
        return f"refused ({e})", present
    return "digest mismatch", present


def run(args: argparse.Namespace) -> int:
    from mlops_infra import charts
    from mlops_infra.charts.pull import folder_of

    entries = _selected(args.chart)
    if isinstance(entries, str):
        return fail(f"charts {args.action}: {entries}")
    roots = charts.store_roots()
    if args.action == "pull":
        return _pull(args, entries, roots)
    bad = 0
    for entry in entries:
        state, path = _state(entry, roots)
        bad += state != "stored"
        source = entry["source"]
        print(f"{folder_of(entry)}\t{state}\t{path or charts.default_store() / folder_of(entry)}\t"
              f"{source['repository']}@{source['ref']}")
    if args.action == "verify" and bad:
        return fail(f"charts verify: {bad} of {len(entries)} locked chart(s) not stored with the lock's digest "
                    "(`mlops-infra charts pull` fills the store)", code=1)
    return 0


def _pull(args: argparse.Namespace, entries: list[dict[str, Any]], roots: list[Path]) -> int:
    from mlops_infra import charts
    from mlops_infra.charts.pull import PullError, git_base, pull

    base = git_base(args.mirror)
    refused: list[str] = []
    try:
        for item in pull(entries, charts.default_store(), roots, base,
                         notify=lambda message: print(f"mlops-infra: {message}", file=sys.stderr, flush=True)):
            if isinstance(item, PullError):
                refused.append(str(item))
                print(f"mlops-infra: refused: {item}", file=sys.stderr, flush=True)
                continue
            print(f"{item.dir}\t{'pulled, digest verified' if item.fetched else 'already stored, digest verified'}"
                  f"\t{item.path}", flush=True)
    except PullError as e:
        return fail(f"charts pull: {e}", code=1)
    except OSError as e:  # the scratch folder's cleanup, or the store vanishing under the pull
        return fail(f"charts pull: the chart store {charts.default_store()}: {e}", code=1)
    finally:
        charts._scan.cache_clear()  # an in-process caller (tests, a notebook) sees the new charts
    if refused:
        return fail(f"charts pull: {len(refused)} of {len(entries)} chart(s) refused, nothing of them stored "
                    "(see above)", code=1)
    return 0
