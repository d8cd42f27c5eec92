"""The monitoring job's init container fetches a recent window only, and the job's inputs have a writer."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

from mlops_infra.serving import monitor_job


def _fetch_args(tmp_path: Path, window_days: int) -> list[str]:
    """Runs the init container's command as written (sh -c) with a stub `aws` that records its arguments."""
    spec = monitor_job.cron_job_spec("churn", "python", "http://pgw", "cm", fetch_image="aws-cli", region="eu-west-1",
                                     inputs="s3://b/monitoring/churn/", service_account="sa",
                                     protected_attributes=[], window_days=window_days)
    (fetch,) = spec["jobTemplate"]["spec"]["template"]["spec"]["initContainers"]
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    out = tmp_path / "args"
    (stub / "aws").write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > {out}\n')
    (stub / "aws").chmod(0o755)
    env = {"PATH": f"{stub}:{os.environ['PATH']}", **{e["name"]: e["value"] for e in fetch["env"]}}
    subprocess.run(fetch["command"], env=env, cwd=tmp_path, check=True, timeout=30)
    return out.read_text().splitlines()


def test_the_fetch_copies_the_reference_and_only_the_last_days_of_predictions(tmp_path: Path) -> None:
    (tmp_path / "predictions").mkdir()  # a `*` expanded by the shell would show here
    args = _fetch_args(tmp_path, 3)
    assert args[:6] == ["s3", "cp", "--recursive", "--only-show-errors", "s3://b/monitoring/churn/", "/inputs"]
    filters = list(zip(args[6::2], args[7::2], strict=True))
    today = dt.datetime.now(dt.UTC).date()
    days = [(today - dt.timedelta(days=i)).isoformat() for i in range(3)]
    assert filters == [("--exclude", "*"), ("--include", "reference.csv"),
                       *[("--include", f"predictions/{d}/*") for d in days]]
    assert len(_fetch_args(tmp_path, 30)) == 6 + 2 * 32
