"""`mlops-infra charts pull` under contention and failure: concurrent pulls into one store, a store that cannot be
written, a git that hangs, a stored copy that holds a symlink, and messages that name only what the wheel ships.
Upstreams are local repositories in tmp dirs (tests/test_charts_pull.py's fixture); the real store is never used."""

from __future__ import annotations

import contextlib
import errno
import io
import multiprocessing
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_infra import charts
from mlops_infra.charts import pull as pull_mod
from mlops_infra.cli.main import main
from tests.test_charts_pull import FILES, REPO, _store_entries, upstream  # noqa: F401  (the fixture)

PROCESSES = 4


def _pull_in_child(url: str, results: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(["charts", "pull", "--mirror", url])
        except BaseException as e:  # what the parent must see: a crash is a result too
            rc = f"{type(e).__name__}: {e}"
    results.put((rc, out.getvalue(), err.getvalue()))


def test_concurrent_pulls_into_one_store_store_it_once_and_all_succeed(
        upstream: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Every process first sees the chart missing (a barrier holds them there), then each stores or finds it."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    real = pull_mod.stored_copy
    seen = {"calls": 0}

    def first_check_waits(entry: Any, roots: list[Path]) -> Path | None:
        found = real(entry, roots)
        seen["calls"] += 1
        if seen["calls"] == 1:  # this process's first look: wait until every process has looked
            barrier.wait(timeout=60)
        return found

    monkeypatch.setattr(pull_mod, "stored_copy", first_check_waits)
    results = ctx.Queue()
    procs = [ctx.Process(target=_pull_in_child, args=(upstream["url"], results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [rc for rc, _, _ in outcomes] == [0] * PROCESSES, outcomes
    lines = [line for _, out, _ in outcomes for line in out.splitlines()]
    assert sum("\tpulled, digest verified\t" in line for line in lines) == 1, lines
    assert sum("\talready stored, digest verified\t" in line for line in lines) == PROCESSES - 1, lines
    assert _store_entries(upstream["store"]) == ["demo-1.2.3"]  # no scratch, no copy moved aside, left behind
    charts._scan.cache_clear()
    assert charts.find("demo", REPO, "1.2.3") is not None


def test_a_stored_copy_holding_a_symlink_is_refused_by_verify_and_replaced_by_pull(
        upstream: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: injected}\n")
    link = upstream["store"] / "demo-1.2.3" / "templates" / "extra"
    os.symlink(outside, link)
    capsys.readouterr()
    assert main(["charts", "verify"]) == 1
    assert f"refused ({link} is a symlink" in capsys.readouterr().out
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
    assert "pulled, digest verified" in capsys.readouterr().out
    assert not link.is_symlink() and (outside / "cm.yaml").exists()  # the link is gone, never followed to delete
    assert main(["charts", "verify"]) == 0


def test_a_stray_file_where_the_chart_folder_goes_is_replaced(upstream: dict[str, Any]) -> None:  # noqa: F811
    upstream["store"].mkdir()
    (upstream["store"] / "demo-1.2.3").write_text("not a chart\n")
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
    assert (upstream["store"] / "demo-1.2.3" / "values.yaml").read_text() == FILES["deploy/demo/values.yaml"]
    assert _store_entries(upstream["store"]) == ["demo-1.2.3"]


def test_a_store_that_cannot_be_written_is_an_error_not_a_traceback(
        upstream: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(charts.STORE_ENV, str(tmp_path / "a-file" / "store"))
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    assert "cannot write the chart store" in capsys.readouterr().err


def test_a_failure_while_storing_refuses_that_chart_and_leaves_nothing(
        upstream: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    def disk_full(*args: Any) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pull_mod, "_store", disk_full)
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    err = capsys.readouterr().err
    assert "refused: demo-1.2.3: [Errno 28] No space left on device; nothing stored" in err
    assert _store_entries(upstream["store"]) == []


def test_a_git_that_hangs_is_stopped_after_the_timeout(
        upstream: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    real_git = shutil.which("git")
    assert real_git is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f'#!/bin/sh\n[ "$1" = ls-remote ] && exec sleep 20\nexec {real_git} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MLOPS_INFRA_GIT_TIMEOUT", "0.5")
    started = time.monotonic()
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert "timed out after 0.5s ($MLOPS_INFRA_GIT_TIMEOUT sets the limit)" in err
    assert _store_entries(upstream["store"]) == []
    monkeypatch.setenv("MLOPS_INFRA_GIT_TIMEOUT", "soon")
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    assert "$MLOPS_INFRA_GIT_TIMEOUT='soon': not a positive number of seconds" in capsys.readouterr().err


def test_messages_name_the_command_not_tools_the_wheel_lacks(
        upstream: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert "`mlops-infra charts pull` stores it" in charts.why_missing("demo", REPO, "1.2.3")  # locked, not stored
    monkeypatch.setenv("PATH", str(upstream["store"].parent / "no-bin"))
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    err = capsys.readouterr().err
    assert "needs git on PATH" in err and "`--mirror`" in err and "tools/" not in err
