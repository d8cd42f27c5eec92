"""The plan engine's runtime tuning (no stack-trace capture, rarer GC) changes nothing but speed, and is undone."""

from __future__ import annotations

import contextlib
import gc
import json
import subprocess
import sys
from pathlib import Path

import pulumi.runtime.resource as sdk_resource
import pytest

from mlops_infra.plan import engine, plan_program
from mlops_infra.plan.runtime_tuning import STACK_TRACE_HOOK
from tests.conftest import PROGRAMS, ROOT

REFS = {"acme/mlops-platform/dev": {"clusterName": "mlops-dev", "kubeconfig": "[secret]"}}


def test_the_sdk_still_has_the_hook_the_plan_replaces() -> None:
    # An SDK upgrade that renames it keeps plans correct but silently slower: this test says so.
    assert callable(getattr(sdk_resource, STACK_TRACE_HOOK))


def test_a_plan_is_identical_without_the_tuning_and_restores_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    hook, threshold = getattr(sdk_resource, STACK_TRACE_HOOK), gc.get_threshold()
    tuned = plan_program(PROGRAMS / "chained", "test", stack_refs=REFS).to_json()
    assert getattr(sdk_resource, STACK_TRACE_HOOK) is hook and gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0
    monkeypatch.setattr(engine, "lean_runtime", contextlib.nullcontext)
    assert plan_program(PROGRAMS / "chained", "test", stack_refs=REFS).to_json() == tuned


@pytest.mark.slow  # two CLI subprocesses
def test_the_cli_process_exits_with_complete_output_after_freezing_its_heap() -> None:
    # `main` freezes the heap at exit (skips the interpreter's final collections): stdout must still be complete
    # and the exit code kept, through a pipe, as a CI job reads it.
    cli = Path(sys.executable).parent / "mlops-infra"
    proc = subprocess.run([str(cli), "graph", "--stack", "dev", "--critical-path", "--format", "json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["floor"]["seconds"] == 18 * 60
    bad = subprocess.run([str(cli), "plan", "--stack", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("mlops-infra: error:")
