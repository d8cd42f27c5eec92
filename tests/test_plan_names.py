"""Names as the providers generate them, refused over their limits (issue 26): the engine exits 2, never truncates."""

from __future__ import annotations

from importlib import metadata

import pytest

from mlops_infra.blocks.naming import bounded_name, name_within
from mlops_infra.cli.main import main
from mlops_infra.plan import PlanError, plan_program
from mlops_infra.plan.names import autoname_table, aws_auto_name
from tests.conftest import PROGRAMS, planned

PROGRAM = PROGRAMS / "engine_parity"
LOGICAL_60 = "r" * 60


def _refusal(case: str) -> str:
    with pytest.raises(PlanError) as err:
        plan_program(PROGRAM, case)
    assert err.value.kind == "input"
    return str(err.value)


def test_the_autoname_table_is_the_installed_pulumi_aws_versions() -> None:
    """The table records the pulumi-aws it was generated for: a pin bump fails here until tools/gen_autonames.py
    runs again at the new tag."""
    table = autoname_table()
    assert table["pulumiAwsVersion"] == metadata.version("pulumi-aws")
    assert table["resources"], "empty table"
    assert table["resources"]["aws:iam/role:Role"]["name"] == {"separator": "-", "randomLength": 7, "maxLength": 64}
    assert table["default"] == {"field": "name", "maxLength": 255, "separator": "-", "randomLength": 7}


def test_a_60_character_auto_named_role_is_refused_with_the_providers_message() -> None:
    line = _refusal("role-auto")
    assert line.count("\n") == 0
    assert line.startswith(f"urn:pulumi:role-auto::engine_parity::aws:iam/role:Role::{LOGICAL_60}: auto-named name '")
    assert "' is 68 characters, over the limit of 64 (pulumi-aws: name '" + LOGICAL_60 + "-' plus 7 random chars " \
           "is longer than maximum length 64)" in line


def test_an_explicit_64_character_role_name_plans_and_65_is_refused() -> None:
    (role,) = plan_program(PROGRAM, "role-64").of_type("aws:iam/role:Role")
    assert role.inputs["name"] == "n" * 64
    assert _refusal("role-65") == (f"urn:pulumi:role-65::engine_parity::aws:iam/role:Role::{LOGICAL_60}: name "
                                   f"'{'n' * 65}' is 65 characters, over the limit of 64 (AWS API limit)")


def test_the_cli_exits_2_on_a_name_over_its_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "role-65", "--program", str(PROGRAM)]) == 2
    assert "is 65 characters, over the limit of 64" in capsys.readouterr().err


def test_a_name_prefix_leaves_room_for_the_providers_26_character_suffix() -> None:
    assert "namePrefix '" + "p" * 39 + "' is 39 characters, over the limit of 38" in _refusal("role-prefix")


def test_helm_release_names_are_held_to_53_auto_named_or_not() -> None:
    assert "auto-named Helm release '" + "h" * 45 + "-" in _refusal("helm-auto")
    assert "is 54 characters, over the limit of 53" in _refusal("helm-auto")
    (release,) = plan_program(PROGRAM, "helm-53").of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["name"] == "h" * 53


def test_kubernetes_limits_per_kind_and_for_label_values() -> None:
    lines = _refusal("k8s").splitlines()
    assert [line.split(": ", 1)[1].split(" '")[0] for line in lines] == [
        "CronJob name", "label team", "auto-named Service"]  # sorted by URN
    assert [line.rsplit("over the limit of ", 1)[1].split(" ")[0] for line in lines] == ["52", "63", "63"]


def test_the_mock_answers_with_the_providers_name_uncut() -> None:
    """The role's `name` output is `<logical>-<7 hex>` whole, as pulumi-aws makes it (no `[:64]` any more)."""
    inv = planned("dev")
    roles = [r for r in inv.of_type("aws:iam/role:Role") if "name" not in r.inputs]
    assert roles, "no auto-named role in dev"
    for role in roles:
        name, refusal = aws_auto_name(role.type, "name", role.name, role.inputs)
        assert refusal is None and name.startswith(role.name + "-") and len(name) == len(role.name) + 8


def test_the_bucket_auto_name_is_lower_cased_as_the_provider_does() -> None:
    name, _ = aws_auto_name("aws:s3/bucket:Bucket", "bucket", "Data", {})
    assert name.startswith("data-") and len(name) == len("data-") + 7


def test_name_within_keeps_the_auto_name_when_it_fits_and_bounds_it_otherwise() -> None:
    assert name_within("x" * 56, 64) is None  # 56 + 8 = 64: the provider's auto-name fits
    assert name_within("x" * 57, 64) == "x" * 57
    long = "mlops-production-features-online-store"
    bounded = name_within(long, 40)
    assert bounded is not None and len(bounded) <= 40 and not bounded.endswith("-")
    assert bounded != name_within(long + "2", 40)
    assert bounded_name("short", 40) == "short"


def test_a_long_feature_store_name_gets_a_replication_group_id_within_40() -> None:
    """`<name>-<7 random>` over ElastiCache's 40 is refused, so a long name passes an explicit id instead."""
    inv = planned("prod", PROGRAMS / "feature_store")
    (group,) = inv.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert "replicationGroupId" not in group.inputs  # `fs-online` fits: the released auto-name stays
    assert aws_auto_name(group.type, "replicationGroupId", "x" * 33, {})[1] == (
        "name '" + "x" * 33 + "-' plus 7 random chars is longer than maximum length 40")


def test_staging_and_prods_container_insights_role_names_fit_and_are_unique_per_copy() -> None:
    """Too long for the auto-name, the role gets a `name_prefix` (the provider appends 26 unique characters), never a
    fixed account-wide name: a second copy of prod in the same account (another Region) creates its own role."""
    for stack in ("prod", "staging"):
        [role] = [r for r in planned(stack).of_type("aws:iam/role:Role")
                  if r.name.endswith("amazon-cloudwatch-observability-role")]
        assert "name" not in role.inputs
        prefix = role.inputs["namePrefix"]
        assert prefix.startswith(f"mlops-{stack}-eks-addon-") and len(prefix) + 26 <= 64


def test_a_stack_released_with_the_fixed_container_insights_role_name_keeps_it_by_opting_in() -> None:
    """`cluster.containerInsightsRoleName` (tests/programs/compute prod) keeps the released name: no replacement."""
    [role] = [r for r in planned("prod", PROGRAMS / "compute").of_type("aws:iam/role:Role")
              if r.name.endswith("amazon-cloudwatch-observability-role")]
    assert role.inputs["name"] == "mlops-prod-eks-addon-amazon-cloudwatch-observability-role"
    assert "namePrefix" not in role.inputs
