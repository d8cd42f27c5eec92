"""The library's own stacks pass every mandatory policy; any waiver they use carries its reason in config."""

from __future__ import annotations

import json

import pytest
from mlops_policies.enforcement import parse_waivers

from mlops_infra.cli.main import main
from tests.conftest import ROOT


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_has_no_mandatory_violation(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--program", str(ROOT), "--stack", stack, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["environment"] == stack  # from the stack's mlops:platform config
    assert [f"{f['policy']}: {f['resource']['name']}: {f['message']}" for f in report["findings"]
            if f["enforcement"] == "mandatory"] == []
    assert code == 0


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_policy_config_waivers_are_complete(stack: str) -> None:
    config = json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())
    for policy, entry in config.items():
        if isinstance(entry, dict):
            for waiver in parse_waivers(policy, entry.get("waivers")):
                assert waiver.reason.strip() and waiver.expires
