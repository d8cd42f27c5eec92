"""What `docs/teardown.md` promises of the security baseline holds at plan time: with `protectStateful: false` the
audit log group's deletion protection is lifted explicitly (review FSEC #1), and outside prod the baseline's
fixed-name secrets are deleted at once, so a stack re-created right after a destroy can take the names again
(review FSEC #4)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mlops_infra.config.environments import apply_profile
from mlops_infra.plan import Inventory
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.security.config import SecurityBaselineConfig
from tests.conftest import ROOT, planned
from tests.nonempty import each
from tests.security.conftest import PROGRAM

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"


def _audit_log_groups(inv: Inventory) -> list[Any]:
    return [r for r in inv.of_type(LOG_GROUP) if str(r.inputs.get("name", "")).startswith("/aws/cloudtrail/")]


@pytest.mark.parametrize(("stack", "protected"), [("staging", False), ("prod", True)])
def test_audit_log_group_deletion_protection_follows_protect_stateful(stack: str, protected: bool) -> None:
    """pulumi-aws keeps a log group's deletion protection on unless told `false`: an omitted input (what the
    `protect or None` pattern sent for staging) leaves it on, and `pulumi destroy` then fails on the group."""
    inv = planned(stack)
    for group in each(_audit_log_groups(inv)):
        assert group.inputs["deletionProtectionEnabled"] is protected, group.name
        assert bool(group.options.get("protect")) is protected, group.name


@pytest.mark.parametrize(("env", "days"), [("dev", 0), ("staging", 0), ("prod", 30)])
def test_profiles_free_the_baselines_secret_names_at_once_outside_prod(env: str, days: int) -> None:
    """The repository's stacks with their profiles beneath (integration secrets, workspace MLflow secrets)."""
    raw = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]["mlops:platform"]
    cfg = PlatformConfig.model_validate(apply_profile(raw))
    assert cfg.security_baseline.secret_recovery_window_days == days


def test_dev_integration_secrets_are_deleted_without_recovery_window() -> None:
    """The security-baseline program's dev stack (integration secret `comet`, fixed name `sec-secrets/comet`)."""
    secrets = planned("dev", PROGRAM).of_type(SECRET)
    for secret in each(secrets):
        assert secret.inputs["recoveryWindowInDays"] == 0, secret.name


@pytest.mark.parametrize("days", [0, 7, 30])
def test_recovery_window_accepts_0_and_7_to_30(days: int) -> None:
    assert SecurityBaselineConfig(secret_recovery_window_days=days).secret_recovery_window_days == days


@pytest.mark.parametrize("days", [1, 6])
def test_recovery_window_refuses_1_to_6(days: int) -> None:
    with pytest.raises(ValidationError, match=r"must be 0 or 7-30"):
        SecurityBaselineConfig(secret_recovery_window_days=days)
