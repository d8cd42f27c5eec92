"""The `data` config: defaults, the environment profiles (staging and prod run LakeFS and the DVC remotes, prod with
two replicas and a protected database), and the cross-concern checks."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mlops_infra.config import PlatformConfig
from mlops_infra.config.environments import apply_profile
from mlops_infra.data.config import DataConfig
from tests.conftest import ROOT


def platform(env: str, **extra: Any) -> PlatformConfig:
    """The repository's stack config for `env` (its profile beneath), with `extra` sections merged over it."""
    raw = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]["mlops:platform"]
    for key, value in extra.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return PlatformConfig.model_validate(apply_profile(raw))


def test_defaults_are_off() -> None:
    cfg = DataConfig()
    assert not cfg.lakefs.enabled and not cfg.dvc.enabled and cfg.dvc.backend == "s3"
    assert cfg.namespaces == set()


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_run_lakefs_and_the_dvc_remotes(env: str) -> None:
    cfg = platform(env)
    assert cfg.data.lakefs.enabled and cfg.data.dvc.enabled
    assert "lakefs" in cfg.namespaces
    db = cfg.data.lakefs.database
    assert db.deletion_protection and db.backup_retention_days >= 7
    if env == "prod":
        assert cfg.protect_stateful and cfg.data.lakefs.replicas == 2 and db.multi_az


def test_dev_keeps_them_off() -> None:
    cfg = platform("dev")
    assert not cfg.data.lakefs.enabled and not cfg.data.dvc.enabled


@pytest.mark.parametrize("lakefs", [False, True])
def test_dvc_through_lakefs_is_refused_as_admin_only(lakefs: bool) -> None:
    """lakeFS open source has one user with one key: a per-team remote through its gateway cannot be authorised."""
    with pytest.raises(ValidationError, match=re.escape("lakefs is admin-only and not offered per team")):
        DataConfig.model_validate({"lakefs": {"enabled": lakefs}, "dvc": {"enabled": True, "backend": "lakefs"}})
    assert DataConfig.model_validate({"lakefs": {"enabled": lakefs}, "dvc": {"enabled": True}}).dvc.backend == "s3"


@pytest.mark.parametrize(("env", "days"), [("dev", 0), ("staging", 0), ("prod", 30)])
def test_secret_names_are_free_again_right_after_a_destroy_outside_prod(env: str, days: int) -> None:
    cfg = platform(env).data
    assert (cfg.lakefs.secret_recovery_window_days, cfg.qdrant.secret_recovery_window_days) == (days, days)


@pytest.mark.parametrize("days", [1, 6])
def test_a_recovery_window_is_0_or_7_to_30_days(days: int) -> None:
    for section in ("lakefs", "qdrant"):
        with pytest.raises(ValidationError, match="must be 0 or 7-30"):
            DataConfig.model_validate({section: {"secretRecoveryWindowDays": days}})


def test_lakefs_needs_external_secrets_and_irsa() -> None:
    with pytest.raises(ValidationError, match="LakeFS reads its database and auth secrets through External Secrets"):
        platform("staging", data={"lakefs": {"enabled": True}}, securityBaseline={"externalSecrets": False})
    with pytest.raises(ValidationError, match=re.escape("set cluster.workloadIdentity irsa")):
        platform("staging", data={"lakefs": {"enabled": True}}, cluster={"workloadIdentity": "podIdentity"})


def test_keys_are_camel_case_and_typos_are_errors() -> None:
    cfg = DataConfig.model_validate({"lakefs": {"repositoryPrefix": "data", "clientNamespaces": ["research"]}})
    assert cfg.lakefs.repository_prefix == "data" and cfg.lakefs.client_namespaces == ["research"]
    with pytest.raises(ValidationError):
        DataConfig.model_validate({"lakefs": {"replica": 2}})
