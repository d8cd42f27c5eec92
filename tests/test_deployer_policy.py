"""docs/deployer-policy.json: the deployer role's policy covers the create call of every AWS resource type the
shipped stacks plan (evaluated with the repository's IAM evaluator), names only real IAM actions, grants no service
the stacks do not use, and is what `python -m mlops_infra.deployer` generates."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from mlops_infra import deployer, docs_figures
from tests.conftest import ROOT, planned
from tests.iam_eval import allows

POLICY = json.loads((ROOT / "docs" / "deployer-policy.json").read_text(encoding="utf-8"))
KNOWN = json.loads(resources.files("mlops_policies").joinpath("data/iam_actions.json").read_text("utf-8"))["services"]


@pytest.fixture(autouse=True)
def _shared_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs_figures, "planned", planned)


def test_every_planned_type_has_a_create_action_and_the_policy_allows_it() -> None:
    types = deployer.planned_types()
    assert "aws:eks/cluster:Cluster" in types and "aws:rds/instance:Instance" in types
    missing = [t for t in types if t not in deployer.CREATE_ACTIONS]
    assert missing == [], "add the create call of these types to mlops_infra/deployer.py CREATE_ACTIONS"
    for t in types:
        for action in deployer.CREATE_ACTIONS[t]:
            assert allows([POLICY], action, "*"), (t, action)
    assert allows([POLICY], "iam:PassRole", "arn:aws:iam::123456789012:role/mlops-prod-eks-cluster")
    assert allows([POLICY], "sts:GetCallerIdentity", "*")


def test_every_action_named_is_a_real_iam_action() -> None:
    lowered = {p: {a.lower() for a in actions} for p, actions in KNOWN.items()}
    for action in {a for acts in deployer.CREATE_ACTIONS.values() for a in acts} | set(deployer.PROVIDER_ACTIONS):
        prefix, name = action.split(":", 1)
        assert name.lower() in lowered.get(prefix, set()), action


def test_the_policy_grants_only_services_the_stacks_use() -> None:
    granted = {a.split(":", 1)[0] for s in POLICY["Statement"] if s["Sid"] == "PlatformServices" for a in s["Action"]}
    assert granted == set(deployer.services(deployer.planned_types()))
    assert not allows([POLICY], "organizations:LeaveOrganization", "*")
    assert not allows([POLICY], "lambda:CreateFunction", "*")


def test_the_shipped_file_is_what_the_generator_writes() -> None:
    assert deployer.deployer_policy(deployer.planned_types()) == POLICY, \
        "run: python -m mlops_infra.deployer --write docs/deployer-policy.json"
