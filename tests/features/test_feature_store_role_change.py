"""A consumer moving in or out of `featureStore.writerNamespaces` (issue #27): the change deploys.

Its ElastiCache user is renamed (`feast-reader-<ns>` -> `feast-writer-<ns>`), which replaces the user; Pulumi creates
the replacement before it deletes the old one, so the replacement needs an id of its own (same id:
UserAlreadyExistsFault)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import yaml

from mlops_infra.features.feature_store_bootstrap import CONVERGE, INIT_SCRIPT
from mlops_infra.plan import Inventory, plan_program
from tests.integration.plans import plan
from tests.nonempty import each

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
    for ns, (old, new) in each(changed.items()):
        assert old in before and new in after and old not in after, ns
        assert after[new] != before[old], f"{ns}: the replacement reuses {before[old]}"
    assert before["feast"] == after["feast"] and before["default"] == after["default"]


@pytest.mark.parametrize("inv_label", ["variant-redis-sql"])
def test_user_ids_are_unique(inv_label: str) -> None:
    ids = list(users(plan(inv_label)).values())
    assert len(ids) >= 4 and len(ids) == len(set(ids))


def passwords(inv: Inventory) -> dict[str, object]:
    """Consumer login password resource name -> its keepers."""
    return {p.name: p.inputs.get("keepers") for p in inv.of_type("random:index/randomPassword:RandomPassword")
            if "-login-" in p.name}


def test_a_role_change_rotates_the_consumers_passwords(swapped: Inventory) -> None:
    """RandomPassword replaces (a new value) when its keepers change: each login's keeper is its role."""
    before, after = passwords(plan("variant-redis-sql")), passwords(swapped)
    logins = [n for n in before if n.endswith(("-ranking", "-research"))]
    assert len(logins) == 4, logins  # registry and Redis logins of both namespaces
    for login in logins:
        assert before[login] and after[login] and before[login] != after[login], login


class _Conn:
    def __init__(self, roles: list[str], log: list[str]) -> None:
        self.roles, self.log = roles, log

    def __enter__(self) -> _Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str) -> list[tuple[str]]:
        self.log.append(sql)
        return [(r,) for r in self.roles] if "FROM pg_roles" in sql else []


def converge(roles: list[str], readers: dict[str, str]) -> list[str]:
    """Run the bootstrap's CONVERGE step against a recording connection whose pg_roles holds `roles`."""
    log: list[str] = []
    fake = types.ModuleType("sqlalchemy")
    engine = types.SimpleNamespace(begin=lambda: _Conn(roles, log), dispose=lambda: None)
    fake.create_engine = lambda _url: engine  # type: ignore[attr-defined]
    fake.text = lambda sql: sql  # type: ignore[attr-defined]
    store = types.SimpleNamespace(config=types.SimpleNamespace(registry=types.SimpleNamespace(path="postgresql://x")))
    saved = sys.modules.get("sqlalchemy")
    sys.modules["sqlalchemy"] = fake
    try:
        exec(CONVERGE, {"readers": readers, "store": store, "sys": sys})
    finally:
        if saved is not None:
            sys.modules["sqlalchemy"] = saved
        else:
            del sys.modules["sqlalchemy"]
    return [s for s in log if "FROM pg_roles" not in s]


def test_the_bootstrap_disables_every_consumer_role_it_no_longer_lists() -> None:
    """After ranking's demotion: `feast_writer_ranking` loses its login and grants; listed roles are untouched.
    (The statements were checked on PostgreSQL 15: NOLOGIN, and no INSERT privilege left.)"""
    readers = {"feast_reader": "P0", "feast_reader_ranking": "P1", "feast_writer_research": "P2"}
    done = converge(["feast_reader_ranking", "feast_writer_ranking", "feast_writer_research", "feast_reader_gone"],
                    readers)
    assert done
    for stale in ("feast_writer_ranking", "feast_reader_gone"):
        assert f"ALTER ROLE {stale} NOLOGIN" in done
        assert f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {stale}" in done
    assert not [s for s in done if any(s.endswith(f" {r}") or f" {r} " in s for r in readers)]
    assert converge(["feast_reader_ranking"], {}) == []  # an S3 registry: nothing to converge


def test_a_reader_loses_any_write_grant_it_holds() -> None:
    assert "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM {reader}" in INIT_SCRIPT
    assert CONVERGE in INIT_SCRIPT
