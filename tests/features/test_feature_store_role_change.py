"""A consumer moving in or out of `featureStore.writerNamespaces` (issue #27): the change deploys.

Its ElastiCache user is renamed (`feast-reader-<ns>` -> `feast-writer-<ns>`), which replaces the user; Pulumi creates
the replacement before it deletes the old one, so the replacement needs an id of its own (same id:
UserAlreadyExistsFault)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops_infra.plan import Inventory, plan_program
from tests.integration.plans import plan

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ROOT / "tests" / "integration" / "variants"
USER = "aws:elasticache/user:User"


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """The redis-sql variant with its writer and reader swapped."""
    directory = tmp_path_factory.mktemp("variants")
    project = yaml.safe_load((VARIANTS / "Pulumi.yaml").read_text())
    project["main"] = str(ROOT / "stacks")
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    stack = yaml.safe_load((VARIANTS / "Pulumi.redis-sql.yaml").read_text())
    features = stack["config"]["mlops:platform"]["featureStore"]
    assert features["writerNamespaces"] == ["ranking"]
    features["writerNamespaces"] = ["research"]
    (directory / "Pulumi.redis-sql.yaml").write_text(yaml.safe_dump(stack))
    return plan_program(directory, "redis-sql")


def users(inv: Inventory) -> dict[str, str]:
    """ElastiCache user name -> user id."""
    return {u.inputs["userName"]: u.inputs["userId"] for u in inv.of_type(USER)}


def test_a_role_change_gives_the_replacement_user_another_id(swapped: Inventory) -> None:
    before, after = users(plan("variant-redis-sql")), users(swapped)
    changed = {"ranking": ("feast-writer-ranking", "feast-reader-ranking"),
               "research": ("feast-reader-research", "feast-writer-research")}
    for ns, (old, new) in changed.items():
        assert old in before and new in after and old not in after, ns
        assert after[new] != before[old], f"{ns}: the replacement reuses {before[old]}"
    assert before["feast"] == after["feast"] and before["default"] == after["default"]


@pytest.mark.parametrize("inv_label", ["variant-redis-sql"])
def test_user_ids_are_unique(inv_label: str) -> None:
    ids = list(users(plan(inv_label)).values())
    assert len(ids) >= 4 and len(ids) == len(set(ids))
