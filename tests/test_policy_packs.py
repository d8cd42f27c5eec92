"""The policy packs ship inside the package (mlops_infra/policy_packs/<pack>), so an install from the wheel has them,
and `mlops-infra policy-pack path <pack>` says where they are."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlops_policies.packs import PACKS

import mlops_infra
from mlops_infra.cli import policy_pack_cmd
from mlops_infra.cli.main import main
from tests.nonempty import each


def test_the_cli_knows_every_pack() -> None:
    assert tuple(PACKS) == policy_pack_cmd.NAMES


def test_policy_pack_path_prints_each_packs_directory(capsys: pytest.CaptureFixture[str]) -> None:
    for pack in each(PACKS):
        assert main(["policy-pack", "path", pack]) == 0
        folder = Path(capsys.readouterr().out.strip())
        assert folder.name == pack and folder.parent == Path(mlops_infra.__file__).resolve().parent / "policy_packs"
        spec = yaml.safe_load((folder / "PulumiPolicy.yaml").read_text())
        assert spec["runtime"] == "python" and spec["description"]
        # The engine runs `__main__.py`, which serves the pack named after its directory.
        assert "serve(HERE.name)" in (folder / "__main__.py").read_text()


def test_each_packs_requirements_install_this_version_of_the_library() -> None:
    """The library brings pulumi-policy and what the rules import (jsonschema, kubernetes-validate, the cost
    estimator): a virtualenv made from requirements.txt alone can load the pack (integration tier proves it)."""
    for pack in each(PACKS):
        folder = policy_pack_cmd.PACKS_DIR / pack
        lines = [ln for ln in (folder / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
        assert lines == [f"mlops-infra=={mlops_infra.__version__}"]
        # PulumiPolicy.yaml's version (semver, what `pulumi policy publish` records) is the package's.
        release, _, dev = mlops_infra.__version__.partition(".dev")
        want = f"{release}-dev{dev}" if dev else release
        assert yaml.safe_load((folder / "PulumiPolicy.yaml").read_text())["version"] == want


def test_policy_pack_path_of_an_unknown_pack_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["policy-pack", "path", "mlops-nope"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
