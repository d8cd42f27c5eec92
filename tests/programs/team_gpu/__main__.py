"""The team-workspace program (stacks/team-workspace/__main__.py, run as is), planned with a new team (not one of
the prod platform's `cluster.teams`) that brings its own EFA GPU pool: the subject of
tests/platform/test_team_workspace.py."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[3] / "stacks" / "team-workspace" / "__main__.py"),
               run_name="__main__")
