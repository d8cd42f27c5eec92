#!/usr/bin/env bash
# Release check (`.ci/run` runs it after the unit tier; `bash .ci/release.sh` runs it alone, in the existing .venv):
# build the sdist and the wheel, `twine check` both, then install the wheel (not editable) into a clean virtualenv and
# plan and check the dev stack from a directory outside the checkout, so every data file the library reads at run time
# must come from the wheel. The user's project (Pulumi.yaml, stacks/, policies/config/) is copied there, as a user's
# own project would hold it; nothing else of the checkout is on the path.
#
# Speed: the clean virtualenv gets only the wheel; its dependencies are borrowed from .venv through a path entry in a
# .pth file (a plain path line: .venv's own .pth files, among them the editable install of this checkout, are not
# processed), and `pip check` proves they satisfy the wheel's declared requirements. Installing them afresh from PyPI
# took 5 minutes here (pulumi-aws alone is ~100 MB), for no extra evidence about the packaging.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
checkout=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== release: python -m build (sdist + wheel), twine check"
.venv/bin/python -m pip install --quiet -e '.[dev,release]'
.venv/bin/python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
.venv/bin/twine check --strict "$work/dist"/*
wheel=$(ls "$work/dist"/*.whl)

# Every file tracked under the two packages (code and data) is in the wheel.
.venv/bin/python - "$wheel" <<'EOF'
import subprocess, sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
tracked = subprocess.run(["git", "ls-files", "mlops_infra", "policies/mlops_policies"], check=True,
                         capture_output=True, text=True).stdout.split()
assert tracked, "git ls-files listed no file under the packages"
missing = [p for p in tracked if p.removeprefix("policies/") not in names]
if missing:
    sys.exit("error: the wheel lacks these tracked package files (pyproject [tool.setuptools.package-data]):\n  "
             + "\n  ".join(missing))
print(f"wheel holds all {len(tracked)} tracked package files")
EOF

echo "== release: the wheel in a clean virtualenv, planning dev outside the checkout"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-deps "$wheel"
site_of() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
site_of .venv/bin/python >"$(site_of "$work/venv/bin/python")/zz-release-check-deps.pth"
"$work/venv/bin/python" -m pip check
mkdir -p "$work/project/policies"
cp Pulumi.yaml "$work/project/"
cp -r stacks "$work/project/"
cp -r policies/config "$work/project/policies/"
cd "$work/project"
# A fresh cache (chart store, render cache): nothing the checkout's runs left behind can stand in for the wheel's data.
export MLOPS_INFRA_CACHE="$work/cache"
"$work/venv/bin/python" - "$checkout" <<'EOF'
import sys
import mlops_infra, mlops_policies
for module in (mlops_infra, mlops_policies):
    assert not module.__file__.startswith(sys.argv[1] + "/"), f"{module.__name__} imported from the checkout"
    assert "/venv/" in module.__file__, f"{module.__name__} not imported from the clean venv: {module.__file__}"
EOF
version=$("$work/venv/bin/mlops-infra" --version)
want=$(basename "$wheel" | cut -d- -f2)
case "$version" in *"$want"*) ;; *) echo "error: mlops-infra --version says '$version', the wheel is $want" >&2; exit 1;; esac
"$work/venv/bin/mlops-infra" plan --stack dev --quiet >"$work/plan.txt" || { cat "$work/plan.txt" >&2; exit 1; }
head -1 "$work/plan.txt"
"$work/venv/bin/mlops-infra" check --stack dev --quiet >"$work/check.txt" || { cat "$work/check.txt" >&2; exit 1; }
# SARIF with the library installed: every result points into the user's project (its program's line that called into
# the library, or its stack file), relative to the project under SRCROOT; never into site-packages.
"$work/venv/bin/mlops-infra" check --stack dev --quiet --format sarif >"$work/check.sarif" || true
"$work/venv/bin/python" - "$work/check.sarif" "$work/project" <<'EOF'
import json, pathlib, sys
run = json.loads(pathlib.Path(sys.argv[1]).read_text())["runs"][0]
project = pathlib.Path(sys.argv[2]).resolve()
assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == project.as_uri() + "/", run["originalUriBaseIds"]
where = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"] for loc in r["locations"]}
assert where, "the dev check reported no result to locate"
outside = sorted(u for u in where if not (project / u).is_file() or not u.startswith("stacks/"))
assert not outside, f"SARIF locations outside the user's project: {outside}"
print(f"sarif: {len(run['results'])} results, all in {sorted(where)}")
EOF
echo "release check: $(( $(date +%s) - start ))s"
