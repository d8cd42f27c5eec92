"""A team workspace attaches its team's DVC grant from the platform's `dvcRemotes` output (stacks/team-workspace's
program, tests/programs/team_dvc), and that grant is exactly the team's remote's write policy."""

from __future__ import annotations

import pytest

from mlops_infra.plan import PlanError, plan_program
from tests.conftest import PROGRAMS, planned

PROGRAM = PROGRAMS / "team_dvc"
REF = "organization/mlops-platform/staging"


def test_the_workspace_role_attaches_its_teams_dvc_write_grant() -> None:
    platform = planned("staging").outputs
    team = plan_program(PROGRAM, "staging", stack_refs={REF: platform})
    attached = {r.name: r.inputs["policyArn"] for r in team.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached["team-research-dvc-remote-write"] == platform["dvcRemotes"]["research"]["writePolicyArn"]
    assert platform["dvcRemotes"]["ranking"]["writePolicyArn"] not in attached.values()


def test_a_platform_without_the_teams_remote_fails_the_plan_with_the_reason() -> None:
    platform = {k: v for k, v in planned("staging").outputs.items() if k != "dvcRemotes"}
    with pytest.raises(PlanError, match="dvcRemotes output has no write grant for team 'research'"):
        plan_program(PROGRAM, "staging", stack_refs={REF: platform})
