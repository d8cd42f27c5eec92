"""Qdrant reads its API keys once, at start: the namespace's restarter rolls the StatefulSet the chart renders when
the keys Secret changes (tests/programs/qdrant, rendered)."""

from __future__ import annotations

import pytest

from tests.blocks.test_rotation import consumers, patchable, restarter
from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


@pytest.mark.charts("qdrant")
def test_the_restarter_rolls_exactly_the_rendered_readers_of_the_server_keys() -> None:
    inv = planned("prod", PROGRAMS / "qdrant", render=True)
    release_ns = {r.inputs["namespace"] for r in inv.of_type("kubernetes:helm.sh/v3:Release")}
    servers = [r.inputs for r in inv.of_type(EXTERNAL_SECRET)
               if r.inputs["metadata"]["namespace"] in release_ns
               and r.inputs["spec"]["target"]["name"].endswith("-api-keys")]
    for es in each(servers):
        ns, target = es["metadata"]["namespace"], es["spec"]["target"]["name"]
        watched, readable = restarter(inv, ns)
        assert target in watched and target in readable
        readers = consumers(inv, ns, target)
        assert readers and all(r.startswith("StatefulSet/") for r in readers), readers
        assert patchable(inv, ns) == {r.split("/", 1)[1] for r in readers}
