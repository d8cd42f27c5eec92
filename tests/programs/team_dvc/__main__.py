"""The team-workspace program (stacks/team-workspace/__main__.py, run as is), planned with a team of the staging
platform that attaches its DVC write grant: the subject of tests/data_versioning/test_team_dvc.py."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[3] / "stacks" / "team-workspace" / "__main__.py"),
               run_name="__main__")
