"""A changed password re-runs the registry bootstrap Job and rolls the feature server (issue 27, minor).

Both pods read their passwords from a Secret by `envFrom`, which Kubernetes reads only when a container starts, and
the bootstrap Job (immutable pod template) sets the read-only user's password in PostgreSQL. So every password the
pod's Secret holds must feed the pod template (the `mlops/config-checksum` annotation): a new password then
replaces the Job (it re-runs and re-passwords the reader) and rolls the server onto the new Secret.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import planned
from tests.features.conftest import PROGRAM

PASSWORD = "random:index/randomPassword:RandomPassword"
KINDS = {"kubernetes:batch/v1:Job": "-registry-init-job", "kubernetes:apps/v1:Deployment": "-server-deployment"}


def _pod(record: ResourceRecord) -> dict[str, Any]:
    spec: dict[str, Any] = record.inputs["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("stack", ["prod", "dev"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_password_a_feast_pod_reads_feeds_its_pod_template(stack: str, kind: str) -> None:
    inv: Inventory = planned(stack, PROGRAM)
    urns = {r.urn: r for r in inv}
    [pod_owner] = [r for r in inv.of_type(kind) if r.name.endswith(KINDS[kind])]
    [container] = _pod(pod_owner)["containers"]
    secret_names = [s["secretRef"]["name"] for s in container.get("envFrom", [])]
    secrets = [r for r in inv.of_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] in secret_names]
    assert len(secrets) == len(secret_names)
    passwords = {u for s in secrets for u in s.property_dependencies.get("stringData", []) if urns[u].type == PASSWORD}
    if stack == "prod":
        assert passwords, "prod's Feast (SQL registry, Redis) reads passwords"
    feeds_template = set(pod_owner.property_dependencies["spec"])
    assert passwords <= feeds_template, f"{pod_owner.name}: a new password would not change its pod template"
    annotations = pod_owner.inputs["spec"]["template"]["metadata"]["annotations"]
    assert "mlops/config-checksum" in annotations
