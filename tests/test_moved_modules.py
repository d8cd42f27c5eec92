"""Every module of the last release before issue 29's moves (commit 6bdba72) that no longer exists fails to import
with an ImportError naming its new home, in both import forms users write; the new home exists."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from mlops_infra.moved_modules import MOVED
from tests.conftest import ROOT


def test_the_moved_modules_are_not_empty_and_none_exists_at_its_old_path() -> None:
    assert len(MOVED) >= 10
    assert [old for old in MOVED if ROOT.joinpath(*old.split(".")).with_suffix(".py").exists()] == []


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_path_names_its_new_home(old: str) -> None:
    new = MOVED[old][0]
    importlib.import_module(new)  # the new home is real
    with pytest.raises(ImportError, match=rf"^{old} moved to {new} .*`import {new}`$"):
        importlib.import_module(old)


def test_the_from_import_form_names_the_new_home_too() -> None:
    """`from package import module` in a fresh interpreter (one for every module): the message survives."""
    script = "\n".join(["import sys", "for old in sys.argv[1:]:", "    package, module = old.rsplit('.', 1)",
                         "    try:", "        exec(f'from {package} import {module}')",
                         "    except ImportError as exc:", "        print(exc)"])
    run = subprocess.run([sys.executable, "-c", script, *sorted(MOVED)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    lines = run.stdout.splitlines()
    assert lines and len(lines) == len(MOVED)
    assert [line.split(" (")[0] for line in lines] == [f"{old} moved to {MOVED[old][0]}" for old in sorted(MOVED)]
