"""A pull killed while its git child runs: the child inherited the scratch lock, so the next pull neither deletes the
folder the child still writes into nor fails; once the child is gone, the next pull deletes it. A stale folder that
cannot be deleted is reported and kept. Upstreams are tests/test_charts_pull.py's local fixture."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.charts import pull as pull_module
from mlops_infra.charts.pull import SCRATCH_PREFIX, remove_stale_scratch
from mlops_infra.cli.main import main
from tests.charts_pull_helpers import pull_in_own_group, wait_for
from tests.test_charts_pull import _store_entries, upstream  # noqa: F401  (the fixture)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def test_a_killed_pulls_git_child_keeps_its_scratch_until_it_exits(
        upstream: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    store: Path = upstream["store"]
    real_git = shutil.which("git")
    assert real_git is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # ls-remote stands for a git child that writes into the pull's scratch (as fetch does) and outlives its pull
    (bin_dir / "git").write_text(
        '#!/bin/sh\nif [ "$1" = ls-remote ]; then\n'
        f'  d=$(ls -d {store}/{SCRATCH_PREFIX}* | head -n 1)\n'
        '  while :; do echo objects >> "$d/written"; sleep 0.05; done\nfi\n'
        f'exec {real_git} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    child = multiprocessing.get_context("fork").Process(target=pull_in_own_group,
                                                        args=(upstream["url"], str(bin_dir)))
    child.start()
    assert child.pid is not None
    try:
        wait_for(lambda: any(_size(p / "written") for p in store.glob(f"{SCRATCH_PREFIX}*")), "the git child's writes")
        scratch = next(store.glob(f"{SCRATCH_PREFIX}*"))
        os.kill(child.pid, signal.SIGKILL)  # the pull only: its git child lives on, holding the inherited lock
        child.join(timeout=30)
        assert child.exitcode == -signal.SIGKILL
        written = _size(scratch / "written")
        wait_for(lambda: _size(scratch / "written") > written, "the orphaned git child still writing")
        assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
        assert scratch.is_dir() and f"removed {scratch.name}" not in capsys.readouterr().err
        assert _store_entries(store) == [scratch.name, "demo-1.2.3"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the orphaned git child and its sleep
    wait_for(lambda: _owner_gone(scratch), "the git child's exit")
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
    assert f"removed {scratch.name}" in capsys.readouterr().err
    assert _store_entries(store) == ["demo-1.2.3"]


def _owner_gone(scratch: Path) -> bool:
    try:
        fd = pull_module._owned(scratch)
    except BlockingIOError:
        return False
    os.close(fd)
    return True


def test_a_stale_scratch_that_cannot_be_deleted_is_reported_and_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    for name in ("stuck", "gone"):
        (store / f"{SCRATCH_PREFIX}{name}" / "git").mkdir(parents=True)
    real = shutil.rmtree

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        if f"{SCRATCH_PREFIX}stuck" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        real(path, *args, **kwargs)

    monkeypatch.setattr(pull_module.shutil, "rmtree", rmtree)
    said: list[str] = []
    assert remove_stale_scratch(store, said.append) == [f"{SCRATCH_PREFIX}gone"]
    assert [p.name for p in store.iterdir()] == [f"{SCRATCH_PREFIX}stuck"]
    assert any(m.startswith(f"kept {SCRATCH_PREFIX}stuck") and "Permission denied" in m for m in said)
