"""Each engine's workloads are created after their RDS instance and the External Secrets that deliver its password
(issue 28, item 11): an atomic Helm release or a Directory whose pods start first would wait behind a Multi-AZ
instance creation and time out, or start with no Secret. Read from the all-engines plan (what Pulumi orders by)."""

from __future__ import annotations

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from tests.integration.plans import plan

ES, RDS = "kubernetes:external-secrets.io/v1:ExternalSecret", "aws:rds/instance:Instance"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan("variant-pipelines")


def waits_for(inv: Inventory, record: ResourceRecord) -> set[str]:
    """Every URN `record` is created after (explicit dependsOn and property dependencies, transitively)."""
    by_urn, seen, todo = inv.by_urn(), set(), [record.urn]
    while todo:
        r = by_urn[todo.pop()]
        for urn in [*(r.options.get("dependsOn") or []), *r.dependencies]:
            if urn not in seen and urn in by_urn:
                seen.add(urn)
                todo.append(urn)
    return seen


@pytest.mark.parametrize(("engine", "namespace", "workload"), [
    ("kfp", "kubeflow", "mlops-dev-kfp-manifests"),
    ("prefect", "prefect", "mlops-dev-prefect-server"),
    ("prefect", "prefect", "mlops-dev-prefect-worker"),
    ("metaflow", "metaflow", "mlops-dev-metaflow-service"),
])
def test_workload_waits_for_its_database_and_secrets(inv: Inventory, engine: str, namespace: str,
                                                     workload: str) -> None:
    (record,) = [r for r in inv.resources if r.name == workload and not r.options.get("rendered")]
    (db,) = [r for r in inv.of_type(RDS) if r.name == f"mlops-dev-{engine}-db"]
    secrets = [r for r in inv.of_type(ES) if r.inputs["metadata"]["namespace"] == namespace
               and r.name.startswith(f"mlops-dev-{engine}-db")]
    assert secrets, f"no ExternalSecret delivers {engine}'s database password"
    waits = waits_for(inv, record)
    assert db.urn in waits
    assert not [s.name for s in secrets if s.urn not in waits]
