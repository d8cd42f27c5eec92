"""The documented way back from the EFA plugin's read-only root (docs/troubleshooting.md, `gpu.efaPluginReadOnlyRoot`):
set it false and add the two waivers the docs name, and prod's `check` passes again. Run as a user would: a copy of
the project with the setting off, and prod's policy config with those waivers added (review R10RENDER, finding 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.cli.main import main
from tests.conftest import ROOT

POLICY = "mlops-k8s-read-only-root-fs"
WAIVED = ("aws-efa-k8s-device-plugin", "*-gpu-software-efa")
"""The rendered DaemonSet and the release whose values restate its securityContext: what the docs tell to waive."""


def _program(tmp_path: Path) -> Path:
    program = tmp_path / "copy"
    shutil.copytree(ROOT / "stacks", program / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "Pulumi.yaml", program / "Pulumi.yaml")
    stack_file = program / "stacks" / "Pulumi.prod.yaml"
    text = stack_file.read_text()
    assert "  mlops:platform:\n" in text and "\n    gpu:\n" not in text
    stack_file.write_text(text.replace("  mlops:platform:\n",
                                       "  mlops:platform:\n    gpu:\n      efaPluginReadOnlyRoot: false\n", 1))
    return program


def _read_only_findings(program: Path, policy_config: Path, capsys: pytest.CaptureFixture[str]) -> list[Any]:
    main(["check", "--program", str(program), "--stack", "prod", "--format", "json", "--pack", "mlops-security",
          "--policy-config", str(policy_config)])
    report = json.loads(capsys.readouterr().out)
    return [(f["resource"]["name"], f["message"]) for f in report["findings"]
            if f["policy"] == POLICY and f["enforcement"] == "mandatory"]


def test_the_docs_name_both_waivers() -> None:
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert [glob for glob in WAIVED if f"`{glob}`" not in text] == []


@pytest.mark.charts("aws-efa-k8s-device-plugin")
def test_prod_passes_with_the_efa_root_writable_and_the_documented_waivers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = _program(tmp_path)
    config = json.loads((ROOT / "policies" / "config" / "prod.json").read_text())
    plain = tmp_path / "prod.json"
    plain.write_text(json.dumps(config))
    before = _read_only_findings(program, plain, capsys)
    assert {name for name, _ in before} >= {"aws-efa-k8s-device-plugin", "mlops-prod-gpu-software-efa"}, before
    config.setdefault(POLICY, {}).setdefault("waivers", []).extend(
        {"resource": glob, "reason": "the plugin writes outside its mounts (test)", "expires": "2099-01-01"}
        for glob in WAIVED)
    waived = tmp_path / "prod-waived.json"
    waived.write_text(json.dumps(config))
    assert _read_only_findings(program, waived, capsys) == []
