"""The CLI: output formats and exit codes (0 ok, 2 bad input or usage), never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_infra.cli.main import main
from tests.conftest import PROGRAMS, ROOT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_dev_prints_a_summary(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "plan", "--stack", "dev")
    assert code == 0
    assert out.startswith("Plan for mlops-platform/dev: ")
    assert "Resources per component:" in out and "Resources per type:" in out and "Outputs:" in out


def test_plan_json_is_the_inventory(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "plan", "--stack", "dev", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["project"], data["stack"], data["schemaVersion"]) == ("mlops-platform", "dev", 1)
    assert {"aws:s3/bucket:Bucket", "aws:kms/key:Key"} <= {r["type"] for r in data["resources"]}


def test_three_config_mistakes_exit_2_listing_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "--program", str(PROGRAMS / "bad_config"), "--stack", "dev")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "mlops-infra: error: mlops:platform: 3 problems",
        "  - network.azCount: must be <= 6 (got 9)",
        "  - gpuPools[0].maxSize: must be >= minSize (2 < 4)",
        "  - featureStore.materializationSchedule: not a valid cron expression ('every hour': expected 5 fields, got 2)",
    ]


def test_missing_stack_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "--program", str(PROGRAMS / "chained"), "--stack", "missing")
    assert code == 2
    assert err.startswith("mlops-infra: error: ") and "Pulumi.missing.yaml: no such stack config file" in err
    assert "Traceback" not in err


def test_invalid_yaml_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "--program", str(PROGRAMS / "bad_yaml"), "--stack", "bad")
    assert code == 2 and "invalid YAML (line 4)" in err


def test_stack_refs_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    refs = tmp_path / "refs.yaml"
    refs.write_text("acme/mlops-platform/dev:\n  clusterName: from-file\n  kubeconfig: '[secret]'\n")
    code, out, _ = run(capsys, "plan", "--program", str(PROGRAMS / "chained"), "--stack", "test",
                       "--stack-refs", str(refs), "--format", "json")
    assert code == 0
    assert json.loads(out)["outputs"]["clusterName"] == "from-file"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["plan"])
    assert info.value.code == 2
    assert "the following arguments are required: --stack/-s" in capsys.readouterr().err


def test_console_script_help_is_fast_to_import() -> None:
    """`--help` must not import pulumi or the providers (lazy imports keep it well under 0.5 s)."""
    code = ("import sys; from mlops_infra.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'pydantic', 'boto3')))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_version_is_the_packages_version(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    import pytest
    import tomllib

    import mlops_infra
    from mlops_infra.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    # One source: the wheel's version is mlops_infra.__version__ (.ci/release.sh checks the built wheel's --version).
    assert pyproject["project"]["dynamic"] == ["version"] and "version" not in pyproject["project"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mlops_infra.__version__"}
    assert capsys.readouterr().out.strip() == f"mlops-infra {mlops_infra.__version__}"


def test_the_changelog_top_section_and_the_version_agree() -> None:
    """An [Unreleased] section on top means a development version of something newer than the last release; a
    released section on top is the version itself: `--version` then tells a release from the work after it."""
    import re
    from pathlib import Path

    from packaging.version import Version

    import mlops_infra

    sections = re.findall(r"^## \[([^\]]+)\]", (Path(__file__).parents[1] / "CHANGELOG.md").read_text(), re.M)
    released = [Version(s) for s in sections if s != "Unreleased"]
    assert released, "premise: CHANGELOG.md has a released section"
    version = Version(mlops_infra.__version__)
    if sections[0] == "Unreleased":
        assert version.is_devrelease and version > released[0], (version, released[0])
    else:
        assert version == released[0]


def test_a_multi_line_output_prints_indented_under_its_key() -> None:
    """A kubeconfig-like output no longer breaks the Outputs block: its lines sit under the key, indented, capped."""
    from mlops_infra.plan.inventory import OUTPUT_LINES, Inventory

    text = "\n".join(f"line {i}" for i in range(OUTPUT_LINES + 3))
    summary = Inventory("p", "s", [], {"kubeconfig": text, "name": "x"}).summary()
    block = summary.split("Outputs:\n", 1)[1].splitlines()
    assert block[0] == f"  kubeconfig: ({OUTPUT_LINES + 3} lines)"
    assert block[1:OUTPUT_LINES + 1] == [f"      line {i}" for i in range(OUTPUT_LINES)]
    assert block[OUTPUT_LINES + 1] == "      ... (3 more)" and block[OUTPUT_LINES + 2] == "  name: x"


def test_progress_lines_only_on_a_terminal_and_never_with_quiet(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import sys

    from mlops_infra.cli.common import progress

    class Tty:
        def __init__(self, tty: bool) -> None:
            self.tty, self.text = tty, ""

        def isatty(self) -> bool:
            return self.tty

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    for tty, quiet, shown in ((True, False, True), (True, True, False), (False, False, False)):
        stream = Tty(tty)
        monkeypatch.setattr(sys, "stderr", stream)
        progress(argparse.Namespace(quiet=quiet), "planning stack dev ...")
        assert (stream.text == "mlops-infra: planning stack dev ...\n") is shown


def test_a_text_plan_prints_the_programs_warnings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A warning the program logs (here: an engine's data bucket without an exfiltration guard) reaches the reader of
    the text plan under Diagnostics, as `pulumi preview` prints it, not only the JSON's `diagnostics`."""
    from tests.conftest import EXAMPLES
    from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs

    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({PLATFORM_STACK: platform_outputs()}))
    code, out, _ = run(capsys, "plan", "--program", str(EXAMPLES / "kubeflow_pipelines"), "--stack", "dev",
                       "--stack-refs", str(refs))
    assert code == 0
    diagnostics = out.split("\nDiagnostics:\n", 1)[1].splitlines()
    assert diagnostics, out
    assert any(line.startswith("  warning: search-dev-kfp-artifacts: EngineRefs.bucket_guard is not set")
               for line in diagnostics), diagnostics


def test_the_diagnostics_block_indents_continuation_lines_and_merges_repeats() -> None:
    from mlops_infra.plan.inventory import Inventory

    inv = Inventory(project="p", stack="s", resources=[], outputs={})
    inv.diagnostics = ["warning: a: first line\nsecond line\n  third, indented", "warning: b: once",
                       "warning: a: first line\nsecond line\n  third, indented", "warning: c: single"]
    block = inv.summary().split("\nDiagnostics:\n", 1)[1].splitlines()
    assert block == ["  warning: a: first line  (2 times)", "      second line", "        third, indented",
                     "  warning: b: once", "  warning: c: single"]
    assert inv.to_json()["diagnostics"] == inv.diagnostics  # the JSON keeps every message as logged
