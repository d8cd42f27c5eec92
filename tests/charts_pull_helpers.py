"""What the chart-pull tests that kill a pull share: waiting for a condition, and a pull run in a process group of
its own, with a fake `git` first on PATH (tests/test_charts_pull_scratch.py, tests/test_charts_pull_orphan_git.py)."""

from __future__ import annotations

import contextlib
import io
import os
import time
from typing import Any

from mlops_infra.cli.main import main


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def pull_in_own_group(url: str, bin_dir: str) -> None:
    """`charts pull --mirror url` with `bin_dir`'s git first on PATH, in its own process group (the test kills the
    pull, then the group: the git child it may have orphaned)."""
    os.setpgrp()
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    os.environ["MLOPS_INFRA_GIT_TIMEOUT"] = "120"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(["charts", "pull", "--mirror", url])
