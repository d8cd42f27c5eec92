"""Build a Helm values-contract fixture (tests/data/chart-values/<chart>-<version>.yaml) from a chart's own source.

Usage (the mirror is a bare git clone, e.g. $MIRROR/<owner>+<name>/repo):

    python tools/chart_values_fixture.py --chart dcgm-exporter --version 4.8.0 \\
        --source NVIDIA/dcgm-exporter --git-dir "$MIRROR/NVIDIA+dcgm-exporter/repo" \\
        --ref 4.5.1-4.8.0 --chart-dir deployment [--subchart grafana=<git-dir>:<ref>:<chart-dir>:<source>]

The fixture lists:
- `paths`: every key path of the chart's values.yaml, plus every `.Values.<path>` its templates read (charts read
  keys they leave out of values.yaml, e.g. commented examples);
- `open`: paths below which any key is valid: a `{}`/null/list default, or a value the templates pass through
  whole (`toYaml .Values.x`, `with .Values.x` + `toYaml .` or a helper given `.`, `range ... .Values.x`);
- `defaults`: the chart's default leaves inside security contexts, so a test can see what a Helm map merge keeps
  (Helm merges maps: a default `capabilities.add` survives values that only set `capabilities.drop`).
Nothing of the upstream chart is copied except these key paths and the security-context defaults.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

VALUES_REF = re.compile(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
TOYAML_REF = re.compile(r"toYaml\s+\(?\s*\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*\)?\s*(?:\||\}\}|-)")
WITH_REF = re.compile(r"\{\{-?\s*with\s+\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*-?\}\}")
# `tpl (toYaml .Values.x) .`: rendered whole (e.g. the qdrant chart's `config` into production.yaml)
TPL_REF = re.compile(r"tpl\s+\(\s*toYaml\s+\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*\)")
RANGE_REF = re.compile(r"range\s+(?:\$\w+\s*,\s*)?\$\w+\s*:=\s*\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
# inside `with .Values.x`: the block hands `.` whole to toYaml, or to a helper (`include "t" .`, `(dict "k" .)`)
PASS_DOT = re.compile(r"toYaml\s+\.\s*(\||\}\}|-)|include\s+\"[^\"]+\"\s+(\.\s|\(dict\s+\"\w+\"\s+\.\s)")
SECURITY = re.compile(r"securitycontext|capabilities", re.IGNORECASE)


def git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True, text=True, check=True).stdout


def walk(value: Any, prefix: str, paths: set[str], opened: set[str], defaults: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            paths.add(path)
            walk(item, path, paths, opened, defaults)
        return
    if prefix and (value is None or value == {} or isinstance(value, list)):
        opened.add(prefix)
    if prefix and SECURITY.search(prefix) and value not in (None, {}, []):
        defaults[prefix] = value


def template_refs(text: str) -> tuple[set[str], set[str]]:
    """(paths the templates read, paths they pass through whole)."""
    refs = {m.group(1)[1:] for m in VALUES_REF.finditer(text)}
    opened = {m.group(1)[1:] for m in TOYAML_REF.finditer(text)} | {m.group(1)[1:] for m in RANGE_REF.finditer(text)}
    opened |= {m.group(1)[1:] for m in TPL_REF.finditer(text)}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = WITH_REF.search(line)
        if match and any(PASS_DOT.search(nxt) for nxt in lines[i + 1:i + 5]):
            opened.add(match.group(1)[1:])
    return refs, opened


def chart_contract(git_dir: str, ref: str, chart_dir: str, prefix: str = "") -> tuple[set[str], set[str], dict[str, Any]]:
    values = yaml.safe_load(git(git_dir, "show", f"{ref}:{chart_dir}/values.yaml")) or {}
    paths: set[str] = set()
    opened: set[str] = set()
    defaults: dict[str, Any] = {}
    walk(values, "", paths, opened, defaults)
    files = git(git_dir, "ls-tree", "-r", "--name-only", ref, f"{chart_dir}/templates/").split()
    for name in files:
        if name.endswith((".yaml", ".yml", ".tpl", ".txt", ".json")):
            refs, passed = template_refs(git(git_dir, "show", f"{ref}:{name}"))
            paths |= refs
            opened |= passed
    # every prefix of a path is a path (a template may read `.Values.a.b` where values.yaml only has `a: {}`)
    paths |= {".".join(p.split(".")[:i]) for p in paths for i in range(1, p.count(".") + 1)}
    if prefix:
        paths = {f"{prefix}.{p}" for p in paths} | {prefix}
        opened = {f"{prefix}.{p}" for p in opened}
        defaults = {f"{prefix}.{k}": v for k, v in defaults.items()}
    return paths, opened, defaults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ("--chart", "--version", "--source", "--git-dir", "--ref", "--chart-dir"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--subchart", action="append", default=[], help="name=git-dir:ref:chart-dir:owner/repo")
    parser.add_argument("--note", default="", help="a line for the header (e.g. why this ref)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()

    commit = git(args.git_dir, "rev-parse", f"{args.ref}^{{commit}}").strip()
    paths, opened, defaults = chart_contract(args.git_dir, args.ref, args.chart_dir)
    sources = [{"repo": args.source, "ref": args.ref, "commit": commit, "chartDir": args.chart_dir}]
    for spec in args.subchart:
        name, rest = spec.split("=", 1)
        sub_git, sub_ref, sub_dir, sub_source = rest.split(":")
        sub_paths, sub_open, sub_defaults = chart_contract(sub_git, sub_ref, sub_dir, prefix=name)
        paths |= sub_paths
        opened |= sub_open
        defaults |= sub_defaults
        sources.append({"repo": sub_source, "ref": sub_ref, "commit": git(sub_git, "rev-parse", f"{sub_ref}^{{commit}}").strip(),
                        "chartDir": sub_dir, "subchart": name})
    command = shlex.join(["python", "tools/chart_values_fixture.py", *sys.argv[1:]])
    header = [
        f"# Helm values contract: chart {args.chart} {args.version}.",
        *(f"# source: github.com/{s['repo']} @ {s['ref']} ({s['commit']}) {s['chartDir']}/values.yaml + templates/"
          + (f" as subchart `{s['subchart']}`" if "subchart" in s else "") for s in sources),
        *([f"# note: {args.note}"] if args.note else []),
        f"# generated by: {command}",
        "# Do not edit: regenerate when the pin moves (tests/test_helm_values_contract.py checks chart and version).",
    ]
    body = {"chart": args.chart, "version": args.version, "sources": sources,
            "paths": sorted(paths), "open": sorted(opened), "defaults": dict(sorted(defaults.items()))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False, width=120))
    print(f"{args.out}: {len(paths)} paths, {len(opened)} open, {len(defaults)} security defaults")


if __name__ == "__main__":
    main()
