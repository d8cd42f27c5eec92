#!/usr/bin/env bash
# The supported SDK range, tested at its lower end (`.ci/run` runs it after the unit tier; `bash .ci/sdk_lowest.sh`
# runs it alone, in the existing .venv). The offline plan engine leans on SDK internals (pulumi's mock monitor and
# settings, the providers' resource signatures) and the offline policy runner on pulumi-policy's args classes, so the
# lower bounds pyproject declares for pulumi, pulumi-aws, pulumi-kubernetes, pulumi-random and pulumi-policy are
# installed into a separate virtualenv, which then plans dev and runs the unit tests of the engine and of the policy
# runner. The upper end is what the unit tier installs anyway.
#
# Speed: only the SDKs are installed (without dependencies: `pip check` proves the rest fits them); every
# other dependency is borrowed from .venv through a .pth path entry, which comes after the virtualenv's own
# site-packages, so the lower-bound SDKs win. The library and the tests come from this checkout (PYTHONPATH).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pins=$(.venv/bin/python - <<'EOF'
import re, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
for name in ("pulumi", "pulumi-aws", "pulumi-kubernetes", "pulumi-random", "pulumi-policy"):
    spec = next(d for d in deps if re.match(rf"{re.escape(name)}\s*[><=!~]", d))
    lower = re.search(r">=\s*([0-9][^,\s]*)", spec).group(1)
    print(f"{name}=={lower}")
EOF
)
echo "== SDK lower bounds: $(echo $pins)"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-deps $pins
site_of() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
site_of .venv/bin/python >"$(site_of "$work/venv/bin/python")/zz-sdk-lowest-deps.pth"
"$work/venv/bin/python" -m pip check
export PYTHONPATH="$PWD:$PWD/policies"
# The console script, as pip would write it for this checkout (tests run `mlops-infra` next to their interpreter).
printf '#!%s\nimport sys\nfrom mlops_infra.cli.main import main\nsys.exit(main())\n' "$work/venv/bin/python" \
  >"$work/venv/bin/mlops-infra"
chmod +x "$work/venv/bin/mlops-infra"
"$work/venv/bin/python" - $pins <<'EOF'
import sys
from importlib.metadata import version
from packaging.version import Version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    assert Version(version(name)) == Version(want), f"{name} {version(name)} is installed, not the lower bound {want}"
EOF
"$work/venv/bin/python" -m mlops_infra.cli.main plan --stack dev --quiet >"$work/plan.txt" || { cat "$work/plan.txt" >&2; exit 1; }
head -1 "$work/plan.txt"
# Deselected: the autoname table records the pulumi-aws it was generated at (the upper end); that test is the pin
# bump guard, not an engine behaviour.
# `-m "not integration"`: pyproject's addopts also skip `slow`, and the SDK-exit test of test_plan_runtime.py is slow.
"$work/venv/bin/python" -m pytest -q -n 0 -m "not integration" tests/test_plan_engine.py tests/test_plan_urns.py tests/test_plan_names.py \
  tests/test_plan_literals.py tests/test_plan_runtime.py tests/test_plan_policy_docs.py tests/platform/test_urns.py \
  tests/policies/test_runner.py tests/policies/test_cost.py tests/policies/test_placeholders.py tests/test_policy_packs.py \
  --deselect tests/test_plan_names.py::test_the_autoname_table_is_the_installed_pulumi_aws_versions
echo "SDK lower bounds: $(( $(date +%s) - start ))s"
