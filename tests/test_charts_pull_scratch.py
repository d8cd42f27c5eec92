"""`mlops-infra charts pull`'s scratch folders and store lock: a pull killed mid-fetch leaves its `.pull-*` folder,
and the next pull deletes it; a folder a live pull owns is kept; a pull that waits for another's lock says so.
Upstreams are local repositories in tmp dirs (tests/test_charts_pull.py's fixture); the real store is never used."""

from __future__ import annotations

import contextlib
import fcntl
import io
import multiprocessing
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.charts.pull import LOCK_FILE, SCRATCH_LOCK, SCRATCH_PREFIX
from mlops_infra.cli.main import main
from tests.charts_pull_helpers import pull_in_own_group, wait_for
from tests.test_charts_pull import _store_entries, upstream  # noqa: F401  (the fixture)


def test_the_scratch_a_killed_pull_left_is_deleted_by_the_next_pull(
        upstream: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    real_git = shutil.which("git")
    assert real_git is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f'#!/bin/sh\n[ "$1" = ls-remote ] && exec sleep 120\nexec {real_git} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    store: Path = upstream["store"]
    child = multiprocessing.get_context("fork").Process(target=pull_in_own_group, args=(upstream["url"], str(bin_dir)))
    child.start()
    try:
        wait_for(lambda: any(p.name.startswith(SCRATCH_PREFIX) for p in store.glob("*")), "the pull's scratch")
        (git_dir := next(store.glob(f"{SCRATCH_PREFIX}*"))).joinpath("marker").write_text("fetched objects")
    finally:
        assert child.pid is not None
        wait_for(lambda: os.getpgid(child.pid) == child.pid, "the child's process group")  # type: ignore[arg-type]
        os.killpg(child.pid, signal.SIGKILL)  # the pull, its git and the git's sleep: no cleanup runs
        child.join(timeout=30)
    assert git_dir.is_dir() and child.exitcode == -signal.SIGKILL
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
    assert f"removed {git_dir.name}" in capsys.readouterr().err
    assert _store_entries(store) == ["demo-1.2.3"]  # no scratch left: the killed pull's, nor this pull's own


def test_a_scratch_folder_a_live_pull_owns_is_kept(upstream: dict[str, Any]) -> None:  # noqa: F811
    store: Path = upstream["store"]
    live = store / f"{SCRATCH_PREFIX}live"
    live.mkdir(parents=True)
    fd = os.open(live / SCRATCH_LOCK, os.O_WRONLY | os.O_CREAT, 0o600)  # a file opened for writing: NFS locks it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a running pull holds on its scratch for its whole life
        assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
        assert _store_entries(store) == [f"{SCRATCH_PREFIX}live", "demo-1.2.3"]
    finally:
        os.close(fd)  # the owner is gone (as when a process dies): the next pull deletes it
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
    assert _store_entries(store) == ["demo-1.2.3"]


class _Lines(io.TextIOBase):
    """A stream that hands each write to the parent at once (the child's stderr)."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def write(self, text: str) -> int:
        self.queue.put(("err", text))
        return len(text)


def _pull_reporting(url: str, queue: Any) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(_Lines(queue)):
        queue.put(("rc", main(["charts", "pull", "--mirror", url])))


def test_a_pull_that_waits_for_the_store_lock_says_so_and_then_stores(upstream: dict[str, Any]) -> None:  # noqa: F811
    store: Path = upstream["store"]
    store.mkdir(parents=True)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with open(store / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another pull holds the store
        child = ctx.Process(target=_pull_reporting, args=(upstream["url"], queue))
        child.start()
        kind, text = queue.get(timeout=60)
        assert kind == "err" and "waiting for the chart store lock held by another pull" in text
        assert _store_entries(store) == []  # it waits: nothing fetched, no scratch made
        fcntl.flock(handle, fcntl.LOCK_UN)
    results = []
    while not results or results[-1][0] != "rc":
        results.append(queue.get(timeout=120))
    child.join(timeout=30)
    assert results[-1] == ("rc", 0)
    assert _store_entries(store) == ["demo-1.2.3"]
