"""Feast consumers get registry and Redis logins of their own, never the owner's (issue 27, item 7).

The exported `feature_store.yaml` references `${FEAST_REGISTRY_USER}`/`${FEAST_REGISTRY_PASSWORD}`. Every namespace the
platform grants the feature store (the feature server's clients: teams and orchestrators) must hold the Secret
`feast-credentials` with a login the registry bootstrap Job creates as a read-only role, and never the owner's
password. A writer namespace (`writerNamespaces`) gets a role the Job lets write. With Redis `redisAuth: rbac`, the
same Secret names the namespace's own ElastiCache user of the replication group's user group.
tests/integration/test_feast.py and test_feast_consumers.py run those logins against PostgreSQL 15 and redis-server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlops_infra.blocks.postgres import POSTGRES_PORT
from mlops_infra.features.feature_store_consumers import (
    CONSUMERS_ENV,
    CREDENTIALS_SECRET,
    REDIS_USER_ENV,
    REGISTRY_USER_ENV,
    WRITERS_ENV,
    reader_role,
    redis_access_string,
)
from mlops_infra.features.feature_store_online import REDIS_PORT
from mlops_infra.plan import Inventory, ResourceRecord
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.platform.mlops_platform import feast_vpc_ports
from mlops_infra.security.exfiltration_guards import egress_rules
from tests.integration.plans import plan

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "random:index/randomPassword:RandomPassword"
SECRET = "kubernetes:core/v1:Secret"


def _pod(record: ResourceRecord) -> dict[str, Any]:
    spec: dict[str, Any] = record.inputs["spec"]["template"]["spec"]
    return spec


def granted(inv: Inventory) -> list[str]:
    """Namespaces the feature server's ingress policy admits as clients, besides its own and Prometheus'."""
    [policy] = [r for r in inv.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r.name.endswith("-features-server-ingress-policy")]
    values = {v for rule in policy.inputs["spec"]["ingress"] for peer in rule.get("from", [])
              for e in (peer.get("namespaceSelector") or {}).get("matchExpressions", []) for v in e["values"]}
    return sorted(values - {policy.inputs["metadata"]["namespace"], "monitoring"})


def test_every_feature_store_consumer_holds_a_read_only_login_the_bootstrap_creates() -> None:
    inv = plan("variant-redis-sql")
    urns = {r.urn: r for r in inv}
    consumers = granted(inv)
    assert consumers, "the SQL-registry variant grants the feature store to its team"
    [job] = [r for r in inv.of_type("kubernetes:batch/v1:Job") if r.name.endswith("-registry-init-job")]
    [container] = _pod(job)["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    logins, writers = json.loads(env[CONSUMERS_ENV]), json.loads(env[WRITERS_ENV])
    [job_secret] = [s for s in inv.of_type(SECRET) if s.inputs["metadata"]["name"] ==
                    container["envFrom"][0]["secretRef"]["name"]]
    job_passwords = {u for u in job_secret.property_dependencies["stringData"] if urns[u].type == PASSWORD}
    owner = inv.named("mlops-dev-features-registry-password").urn
    assert writers == [reader_role("ranking", write=True)], "the variant's writer namespace"
    for ns in consumers:
        write = ns == "ranking"
        assert reader_role(ns, write) in logins, f"{ns}: the bootstrap Job creates no login for it"
        assert (reader_role(ns, write) in writers) == write
        sources = {u for u in _secret(inv, ns).property_dependencies["stringData"] if urns[u].type == PASSWORD}
        assert len(sources & job_passwords) == 1, f"{ns}: no single password the bootstrap Job sets"
        assert owner not in sources, f"{ns}: holds the registry owner's password"
    assert owner in job_passwords  # the Job itself logs in as the owner


def _secret(inv: Inventory, ns: str) -> ResourceRecord:
    [secret] = [s for s in inv.of_type(SECRET) if s.inputs["metadata"]["name"] == CREDENTIALS_SECRET
                and s.inputs["metadata"]["namespace"] == ns]
    return secret


def test_every_consumer_holds_its_own_redis_user_of_the_group_and_never_the_owners_password() -> None:
    """The Secret's FEAST_REDIS_USER is a user of the replication group's user group, its password the one that
    user is given; the access string reads (or, for a writer, writes) Feast's keys only."""
    inv = plan("variant-redis-sql")
    urns = {r.urn: r for r in inv}
    consumers = granted(inv)
    assert consumers
    [group] = inv.of_type("aws:elasticache/userGroup:UserGroup")
    [redis] = inv.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert redis.inputs["userGroupIds"] == [group.inputs["userGroupId"]] and "authToken" not in redis.inputs
    users = {u.inputs["userName"]: u for u in inv.of_type("aws:elasticache/user:User")
             if u.inputs["userId"] in group.inputs["userIds"]}
    assert users["default"].inputs["accessString"].startswith("off ")
    owner_password = set(users["feast"].property_dependencies["passwords"])
    assert owner_password and all(urns[u].type == PASSWORD for u in owner_password)
    for ns in consumers:
        secret = _secret(inv, ns)
        name = secret.inputs["stringData"][REDIS_USER_ENV] if isinstance(secret.inputs["stringData"], dict) else None
        user = users[f"feast-{'writer' if ns == 'ranking' else 'reader'}-{ns}"]
        if name is not None:  # a secret map is masked whole; the dependency below is what proves the pairing
            assert name == user.inputs["userName"]
        assert user.inputs["accessString"] == redis_access_string("mlops", write=ns == "ranking")
        delivered = {u for u in secret.property_dependencies["stringData"] if urns[u].type == PASSWORD}
        assert set(user.property_dependencies["passwords"]) <= delivered, f"{ns}: not its user's password"
        assert not owner_password & delivered, f"{ns}: holds the Redis owner's password"


def test_team_egress_opens_redis_exactly_when_consumers_hold_redis_logins() -> None:
    """The guarded team namespaces' egress (security/exfiltration_guards.py) opens the Redis port into the VPC when
    the teams hold Redis users (RBAC), and not with the owner-only AUTH token."""
    raw = yaml.safe_load((ROOT / "tests/integration/variants/Pulumi.redis-sql.yaml").read_text())["config"]
    for auth, opened in (("rbac", True), ("token", False)):
        cfg = dict(raw["mlops:platform"])
        cfg["featureStore"] = {**cfg["featureStore"], "online": {"type": "redis", "redisAuth": auth}}
        config = load_platform_config(cfg)
        rules = egress_rules(config.security_baseline, "10.0.0.0/16", [], vpc_ports=feast_vpc_ports(config))
        ports = {p["port"] for r in rules for p in r.get("ports", []) if r.get("to") == [{"ip_block": {"cidr": "10.0.0.0/16"}}]}
        assert (REDIS_PORT in ports) is opened, (auth, ports)
        assert POSTGRES_PORT in ports  # the SQL registry's logins, either way


def test_the_exported_file_names_no_owner_login_and_runs_no_ddl() -> None:
    doc = yaml.safe_load(str(plan("variant-redis-sql").outputs["featureStoreFeatureStoreYaml"]))
    path = doc["registry"]["path"]
    assert path.startswith(f"postgresql+psycopg://${{{REGISTRY_USER_ENV}}}:${{FEAST_REGISTRY_PASSWORD}}@"), path
    assert doc["registry"]["schema_mode"] == "verify"
