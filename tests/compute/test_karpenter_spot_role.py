"""Karpenter Spot pools need the account's `AWSServiceRoleForEC2Spot` (EC2 `CreateFleet` for Spot). Upstream
(Karpenter v1.9 getting started) creates it by hand once per account and its controller policy does not grant
`iam:CreateServiceLinkedRole`; this library does the same, so the docs a deployer follows must say it."""

from __future__ import annotations

from mlops_infra.plan import Inventory
from tests import iam_eval
from tests.conftest import EXAMPLES, ROOT
from tests.nonempty import each
from tests.platform.test_standalone import standalone

EXAMPLE = EXAMPLES / "karpenter"
COMMAND = "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com"
SPOT_ROLE = "arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"


def spot_node_pools(inv: Inventory) -> list[str]:
    """Names of the NodePools whose capacity-type requirement admits Spot."""
    out = []
    for pool in inv.of_type("kubernetes:karpenter.sh/v1:NodePool"):
        reqs = pool.inputs["spec"]["template"]["spec"]["requirements"]
        if any(r["key"] == "karpenter.sh/capacity-type" and "spot" in r["values"] for r in reqs):
            out.append(str(pool.inputs["metadata"]["name"]))
    return out


def controller_documents(inv: Inventory) -> list[str]:
    return [p.inputs["policy"] for p in inv.of_type("aws:iam/rolePolicy:RolePolicy") if "-karpenter-controller" in p.name]


def test_the_example_launches_spot_and_its_controller_cannot_create_the_spot_role() -> None:
    inv = standalone(EXAMPLE)
    assert each(spot_node_pools(inv))
    docs = each(controller_documents(inv))
    assert each(iam_eval.statements(docs))  # a policy with statements, not a vacuous "not allowed"
    assert not iam_eval.allows(docs, "iam:CreateServiceLinkedRole", SPOT_ROLE,
                               {"iam:AWSServiceName": "spot.amazonaws.com"})


def test_the_docs_a_deployer_follows_create_the_spot_role_by_hand() -> None:
    for page in ("examples/karpenter/README.md", "docs/deploying.md"):
        text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
        assert COMMAND in text, page
        assert "AWSServiceRoleForEC2Spot" in text, page
