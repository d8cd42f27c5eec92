"""A policy config naming no policy is refused: a renamed or folded policy would otherwise drop its waivers and
allowlists silently (the IRSA rule folded into mlops-inv-workload-identity kept its prod allowlist under the old name)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlops_policies.enforcement import PolicyConfigError
from mlops_policies.runner import load_policy_config

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "policies" / "config").glob("*.json"))


def test_a_config_for_a_folded_policy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prod.json"
    path.write_text(json.dumps({"mlops-inv-irsa-service-account": {"externalServiceAccounts": ["a/b"]}}))
    with pytest.raises(PolicyConfigError, match=r"no policy is named mlops-inv-irsa-service-account"):
        load_policy_config(path)


def test_a_config_for_a_real_policy_and_all_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "prod.json"
    path.write_text(json.dumps({"all": "advisory",
                                "mlops-inv-workload-identity": {"externalServiceAccounts": ["a/b"]}}))
    assert set(load_policy_config(path)) == {"all", "mlops-inv-workload-identity"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_policy_config_names_real_policies(path: Path) -> None:
    assert SHIPPED
    assert load_policy_config(path)
