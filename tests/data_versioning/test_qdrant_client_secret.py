"""The client Secret Qdrant writes into each granted namespace is named per instance: a Qdrant built alone (the
example, granting `research`) and the platform's own (staging/prod, granting every team, `research` included) write
two Secrets there, not one ExternalSecret twice. The platform keeps the name its consumers' pods mount."""

from __future__ import annotations

from mlops_infra.data.qdrant import PLATFORM_CLIENT_SECRET
from mlops_infra.plan import Inventory
from tests.conftest import EXAMPLES, PROGRAMS, planned
from tests.nonempty import each
from tests.platform.test_standalone import standalone

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


def client_secrets(inv: Inventory, qdrant_type: str = "mlops:data:Qdrant") -> set[tuple[str, str]]:
    """(namespace, Secret name) of every client ExternalSecret a Qdrant writes (its server's keys left out)."""
    return {(str(e.inputs["metadata"]["namespace"]), str(e.inputs["spec"]["target"]["name"]))
            for e in inv.of_type(EXTERNAL_SECRET)
            if qdrant_type in e.urn and "template" in e.inputs["spec"]["target"]}


def test_a_qdrant_alone_and_the_platforms_write_different_secrets_into_a_namespace_both_grant(
        prod_plan: Inventory) -> None:
    alone, platform = client_secrets(standalone(EXAMPLES / "qdrant")), client_secrets(prod_plan)
    both = {ns for ns, _ in each(alone)} & {ns for ns, _ in each(platform)}
    assert "research" in both  # the collision this guards against exists in the configs
    assert alone & platform == set()
    assert {name for _, name in alone} == {"search-qdrant-credentials"}


def test_the_platform_keeps_the_secret_name_its_consumers_mount(prod_plan: Inventory) -> None:
    assert PLATFORM_CLIENT_SECRET == "qdrant-credentials"
    assert {name for _, name in each(client_secrets(prod_plan))} == {PLATFORM_CLIENT_SECRET}
    assert prod_plan.outputs["qdrantCredentialsSecret"] == PLATFORM_CLIENT_SECRET


def test_a_qdrant_names_its_client_secret_after_itself_by_default() -> None:
    inv = planned("prod", PROGRAMS / "qdrant")
    assert inv.outputs["credentialsSecret"] == "mlops-prod-qdrant-credentials"
    assert {name for _, name in each(client_secrets(inv))} == {"mlops-prod-qdrant-credentials"}
    assert standalone(EXAMPLES / "qdrant").outputs["qdrantCredentialsSecret"] == "search-qdrant-credentials"
