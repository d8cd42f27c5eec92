"""Names that moved out of `mlops_infra.config` (issue 29: PlatformConfig is a layer up) say where they went, in the
import form users write."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("name, home", [("PlatformConfig", "mlops_infra.platform.config"),
                                        ("load_platform_config", "mlops_infra.platform.loader")])
def test_a_moved_name_imported_the_usual_way_names_its_new_home(name: str, home: str) -> None:
    run = subprocess.run([sys.executable, "-c", f"from mlops_infra.config import {name}"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert f"ImportError: {name} moved to {home}: `from {home} import {name}`" in run.stderr
