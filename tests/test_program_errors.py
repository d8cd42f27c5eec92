"""A user program's exception names the user's file and line (issue 29 item 7), run as a user runs it: the CLI in a
subprocess, on a program in a directory of its own.

- raised in a module of the program's: that module's line;
- raised inside an installed mlops-infra (a copy under `site-packages`), itself failing in the stdlib: the program's
  line that called into the library;
- raised inside a checked-out mlops-infra (this repository, as the platform's own stacks use it): the library's
  line, then the program's line that called it.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_infra.network import config as network_config
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

BAD_CIDR = "10.0.0.0/33"
STDLIB_MESSAGE = f"ValueError: {BAD_CIDR!r} does not appear to be an IPv4 or IPv6 network"
CLI = "import sys; from mlops_infra.cli.main import main; sys.exit(main())"


def _program(tmp_path: Path, main: str, **modules: str) -> Path:
    program = tmp_path / "prog"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: userprog\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    (program / "__main__.py").write_text(main)
    for name, text in modules.items():
        (program / f"{name}.py").write_text(text)
    return program


def _plan(tmp_path: Path, pythonpath: Path | None = None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run([sys.executable, "-c", CLI, "plan", "--program", "prog", "--stack", "dev", "--no-render",
                           "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr.strip()


def _line_of(module: object, text: str) -> tuple[str, int]:
    lines, start = inspect.getsourcelines(module)  # type: ignore[arg-type]
    [index] = [i for i, line in enumerate(lines) if text in line]
    return inspect.getsourcefile(module) or "", start + index  # type: ignore[arg-type]


def test_an_exception_in_a_module_of_the_program_names_that_modules_line(tmp_path: Path) -> None:
    _program(tmp_path, "import helpers\n\nhelpers.build()\n",
             helpers="def build() -> None:\n    raise ValueError('size must be positive')\n")
    assert _plan(tmp_path) == (1, "mlops-infra: error: ValueError: size must be positive (at prog/helpers.py:2)")


MAIN_CALLS_LIBRARY = ("from mlops_infra.network.config import carve_subnets\n\n"
                      f"carve_subnets({BAD_CIDR!r}, 2, 19, 22)\n")


def test_an_exception_inside_an_installed_library_names_the_programs_call(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "site-packages"
    shutil.copytree(ROOT / "mlops_infra", site / "mlops_infra", ignore=shutil.ignore_patterns("__pycache__"))
    _program(tmp_path, MAIN_CALLS_LIBRARY)
    # The stdlib raised (ipaddress), inside the installed library: the user's line is the program's call.
    assert _plan(tmp_path, site) == (1, f"mlops-infra: error: {STDLIB_MESSAGE} (at prog/__main__.py:3)")


def test_an_exception_inside_a_checked_out_library_names_its_line_and_the_programs_call(tmp_path: Path) -> None:
    _program(tmp_path, MAIN_CALLS_LIBRARY)
    file, line = _line_of(network_config.carve_subnets, "ipaddress.ip_network(vpc_cidr)")
    assert Path(file).is_relative_to(ROOT)  # the library is this checkout, not an installed copy
    assert _plan(tmp_path) == (
        1, f"mlops-infra: error: {STDLIB_MESSAGE} (at {file}:{line}, called from prog/__main__.py:3)")
