"""The platform's `platformNamespaces` output (review of issue 29, finding 5) lists exactly the namespaces its plan
creates: components of another stack refuse those (ClusterRefs.occupied_namespaces), so one left out would be
created a second time (AlreadyExists), and one too many would refuse a free namespace."""

from __future__ import annotations

import pytest

from tests.conftest import planned


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_platform_namespaces_are_the_namespaces_the_platform_creates(stack: str) -> None:
    inv = planned(stack)
    created = {r.inputs["metadata"]["name"] for r in inv.of_type("kubernetes:core/v1:Namespace")}
    assert len(created) >= 4
    assert set(inv.outputs["platformNamespaces"]) == created
