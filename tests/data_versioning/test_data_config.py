"""The `data` config: defaults, the environment profiles (staging and prod run LakeFS and the DVC remotes, prod with
two replicas and a protected database), and the cross-concern checks."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mlops_infra.config.environments import apply_profile
from mlops_infra.data.config import DataConfig
from mlops_infra.platform.config import PlatformConfig
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
    """The profiles set 0 outside prod; prod leaves it to protection (protected: 30)."""
    from mlops_infra.data.config import secret_recovery_window
    cfg = platform(env)
    assert {secret_recovery_window(c.secret_recovery_window_days, cfg.protect_stateful)
            for c in (cfg.data.lakefs, cfg.data.qdrant)} == {days}


@pytest.mark.parametrize(("days", "protect", "window"), [(None, True, 30), (None, False, 0), (7, False, 7), (0, True, 0)])
def test_the_default_recovery_window_follows_protection(days: int | None, protect: bool, window: int) -> None:
    from mlops_infra.data.config import secret_recovery_window
    assert secret_recovery_window(days, protect) == window


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


QDRANT_BASE: dict[str, Any] = {"environment": "staging", "tags": {"owner": "ml-platform", "costCenter": "cc-1234"},
                               "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]}}


def qdrant_platform(size: int, disk: int = 50, **qdrant: Any) -> dict[str, Any]:
    """Staging (Qdrant on) with `storageSize` `size` Gi on system nodes of `disk` GiB."""
    return {**QDRANT_BASE, "cluster": {**QDRANT_BASE["cluster"], "systemNodes": {"diskSizeGib": disk}},
            "data": {"qdrant": {"storageSize": f"{size}Gi", **qdrant}}}


@pytest.mark.parametrize("disk", [50, 200])
def test_a_qdrant_storage_size_no_system_node_can_stage_is_refused(disk: int) -> None:
    """Review (latefix) #2: the snapshot job requests storageSize of ephemeral storage on a system node, whose
    allocatable is the root volume less kubelet's 1Gi kube-reserved and 10% eviction threshold (EKS nodeadm)."""
    from mlops_infra.compute.config import system_node_ephemeral_gib
    from mlops_infra.config import ConfigError
    from mlops_infra.platform.loader import load_platform_config
    room = system_node_ephemeral_gib(disk)
    assert room == int(disk * 0.9) - 1 and 0 < room < disk
    assert load_platform_config(qdrant_platform(room, disk)).data.qdrant.storage_size == f"{room}Gi"
    with pytest.raises(ConfigError) as err:
        load_platform_config(qdrant_platform(room + 1, disk))
    assert [p for p in err.value.problems if p.startswith("data.qdrant.storageSize")] == [
        f"data.qdrant.storageSize: {room + 1}Gi does not fit the snapshot job's scratch space on a system node: it "
        f"requests storageSize of ephemeral storage, at most int(0.9 x cluster.systemNodes.diskSizeGib) - 1 = "
        f"{room}Gi for {disk} GiB (kubelet keeps 1Gi and 10% back); raise diskSizeGib or lower storageSize"]
    # With a nodeSelector the job runs on the operator's nodes, whose disks this config does not know.
    load_platform_config(qdrant_platform(room + 1, disk, nodeSelector={"pool": "vectors"}))
