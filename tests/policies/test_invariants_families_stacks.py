"""The kms-users, identity and service-reach families on the shipped stacks: clean as shipped, and each catches one
relation broken in the real plan (the shapes our components build, not only hand-built inventories)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from mlops_policies.families import POLICIES_BY_FAMILY
from mlops_policies.runner import evaluate, load_policy_config

from tests.conftest import ROOT, planned
from tests.nonempty import each

FAMILIES = ("kms-users", "identity", "service-reach")


def findings(inv: dict[str, Any], env: str, family: str) -> list[str]:
    """The family's findings as `check --stack <env>` reports them: with the stack's policy config (its allowlists,
    e.g. the ServiceAccount a team workspace stack creates for the platform's reader role)."""
    policies = POLICIES_BY_FAMILY[family]
    assert policies, family
    config = load_policy_config(ROOT / "policies" / "config" / f"{env}.json")
    return [f"{f.name}: {f.message}" for f in evaluate(inv, environment=env, policy_config=config,
                                                          only=list(policies)).findings]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stacks_are_clean(stack: str) -> None:
    inv = planned(stack, render=True).to_json()
    for family in each(FAMILIES):
        assert findings(inv, stack, family) == [], family


def _key(inv: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in inv["resources"] if r["name"] == name and r["type"] == "aws:kms/key:Key"]
    assert len(found) == 1, name
    return found[0]


def test_prod_node_key_without_the_auto_scaling_statements_fails() -> None:
    inv = copy.deepcopy(planned("prod").to_json())
    key = _key(inv, "mlops-prod-eks-key")
    doc = json.loads(key["inputs"]["policy"])
    kept = [s for s in doc["Statement"] if not str(s.get("Sid", "")).startswith("Ec2ServiceLinkedRoles")]
    assert len(kept) < len(doc["Statement"]), "the key no longer has the service-linked role statements"
    key["inputs"]["policy"] = json.dumps({**doc, "Statement": kept})
    found = findings(inv, "prod", "kms-users")
    assert found and all(f.startswith("mlops-prod-eks-key: ") and "AWSServiceRoleForAutoScaling" in f for f in found)
    assert any("launch template mlops-prod-gpu-od-p5-lt" in f for f in found), found


def test_prod_alarm_topic_key_without_cloudwatch_fails() -> None:
    inv = copy.deepcopy(planned("prod").to_json())
    key = _key(inv, "mlops-prod-monitoring-key")
    doc = json.loads(key["inputs"]["policy"])
    kept = [s for s in doc["Statement"] if s.get("Sid") != "CloudWatchAlarmsUseKey"]
    assert len(kept) == len(doc["Statement"]) - 1
    key["inputs"]["policy"] = json.dumps({**doc, "Statement": kept})
    found = findings(inv, "prod", "kms-users")
    assert len(found) == 1 and "cloudwatch.amazonaws.com" in found[0] and "mlops-prod-monitoring-alerts-topic" in found[0]


def test_prod_service_account_annotated_with_another_role_fails() -> None:
    inv = copy.deepcopy(planned("prod", render=True).to_json())
    accounts = [r for r in inv["resources"] if r["type"] == "kubernetes:core/v1:ServiceAccount"
                and "eks.amazonaws.com/role-arn" in (r["inputs"]["metadata"].get("annotations") or {})]
    assert len(accounts) >= 2, "fewer than two annotated ServiceAccounts in prod"
    first, second = accounts[0], accounts[1]
    first["inputs"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = \
        second["inputs"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    first["propertyDependencies"]["metadata"] = second["propertyDependencies"].get("metadata", [])
    found = findings(inv, "prod", "identity")
    name = first["inputs"]["metadata"]["name"]
    assert any(f.startswith(f"{first['name']}: ServiceAccount ") and f"/{name} " in f for f in found), found
