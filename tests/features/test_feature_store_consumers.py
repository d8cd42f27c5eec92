"""Feast consumers get a read-only registry login of their own, never the owner's (issue 27, item 7).

The exported `feature_store.yaml` references `${FEAST_REGISTRY_USER}`/`${FEAST_REGISTRY_PASSWORD}`. Every namespace the
platform grants the feature store (the feature server's clients: teams and orchestrators) must hold the Secret
`feast-credentials` with a login the registry bootstrap Job creates as a read-only role, and never the owner's
password. tests/integration/test_feast.py runs that login against PostgreSQL 15: it reads and cannot write.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from mlops_infra.features.feature_store_consumers import CONSUMERS_ENV, CREDENTIALS_SECRET, REGISTRY_USER_ENV, reader_role
from mlops_infra.plan import Inventory, ResourceRecord
from tests.integration.plans import plan

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
    logins = json.loads({e["name"]: e.get("value") for e in container["env"]}[CONSUMERS_ENV])
    [job_secret] = [s for s in inv.of_type(SECRET) if s.inputs["metadata"]["name"] ==
                    container["envFrom"][0]["secretRef"]["name"]]
    job_passwords = {u for u in job_secret.property_dependencies["stringData"] if urns[u].type == PASSWORD}
    owner = inv.named("mlops-dev-features-registry-password").urn
    for ns in consumers:
        assert reader_role(ns) in logins, f"{ns}: the bootstrap Job creates no login for it"
        [secret] = [s for s in inv.of_type(SECRET) if s.inputs["metadata"]["name"] == CREDENTIALS_SECRET
                    and s.inputs["metadata"]["namespace"] == ns]
        sources = {u for u in secret.property_dependencies["stringData"] if urns[u].type == PASSWORD}
        assert len(sources) == 1 and sources <= job_passwords, f"{ns}: not a password the bootstrap Job sets"
        assert owner not in sources, f"{ns}: holds the registry owner's password"
    assert owner in job_passwords  # the Job itself logs in as the owner


def test_the_exported_file_names_no_owner_login_and_runs_no_ddl() -> None:
    doc = yaml.safe_load(str(plan("variant-redis-sql").outputs["featureStoreFeatureStoreYaml"]))
    path = doc["registry"]["path"]
    assert path.startswith(f"postgresql+psycopg://${{{REGISTRY_USER_ENV}}}:${{FEAST_REGISTRY_PASSWORD}}@"), path
    assert doc["registry"]["schema_mode"] == "verify"
