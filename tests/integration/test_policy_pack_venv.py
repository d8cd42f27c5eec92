"""Each policy pack in a clean virtualenv made only from its requirements.txt, as `pulumi policy publish` (or a user
who builds the pack its own virtualenv) gets it: the library from the wheel built from this checkout, every other
package from the index pip is configured with. Then, outside the checkout, every pack's policies build."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from mlops_policies.packs import PACKS

from mlops_infra.cli.policy_pack_cmd import PACKS_DIR
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

LOAD = """
import sys
import mlops_infra, mlops_policies
from mlops_policies.packs import build_policies
for module in (mlops_infra, mlops_policies):
    assert sys.prefix in module.__file__, f"{module.__name__} from {module.__file__}, not the pack's virtualenv"
pack = sys.argv[1]
print(pack, len(build_policies(pack, "prod")))
"""


def test_each_pack_loads_in_a_virtualenv_made_from_its_requirements(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(dist), str(ROOT)], check=True)
    requirements = {(PACKS_DIR / pack / "requirements.txt").read_text() for pack in PACKS}
    assert len(requirements) == 1, "the packs' requirements differ: one virtualenv per pack then"
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    # Nothing of the checkout on the path (PYTHONPATH would also let pip take the checkout for an installed copy).
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean["PATH"] = f"{env / 'bin'}:/usr/bin:/bin"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--find-links", str(dist),
                    "-r", str(PACKS_DIR / next(iter(PACKS)) / "requirements.txt")], check=True, cwd=tmp_path, env=clean)
    for pack in PACKS:
        done = subprocess.run([str(python), "-c", LOAD, pack], capture_output=True, text=True, cwd=tmp_path,
                              env=clean)
        assert done.returncode == 0, done.stderr[-3000:]
        out = done.stdout.split()
        assert out[0] == pack and int(out[1]) > 0, out
