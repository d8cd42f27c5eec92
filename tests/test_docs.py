"""The README's generated parts match what the code generates now: config reference, output contract, prod diagram."""

from __future__ import annotations

import re

import pytest

from mlops_infra import docs
from mlops_infra.plan.graph import mermaid
from tests.conftest import ROOT, planned

README = (ROOT / "README.md").read_text(encoding="utf-8")


def region(name: str) -> str:
    start, end = docs.markers(name)
    match = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), README, re.S)
    assert match, f"README has no {name} region"
    return match.group(1)


@pytest.mark.parametrize("name", ["config-reference", "stack-outputs"])
def test_generated_tables_are_current(name: str) -> None:
    assert region(name) == docs.REGIONS[name](), "run: python -m mlops_infra.docs --write README.md"


def test_readme_diagram_is_what_graph_prints_for_prod() -> None:
    assert region("prod-diagram") == f"```mermaid\n{mermaid(planned('prod'))}\n```"


def test_config_reference_lists_every_config_key() -> None:
    table = region("config-reference")
    for key in ("network.azCount", "cluster.endpointPublicAccess", "gpuPools[].instanceTypes",
                "featureStore.online.type", "modelRegistry.database.multiAz", "monitoring.thresholds.driftScore",
                "securityBaseline.exfiltrationGuards"):
        assert f"| `{key}` |" in table


def test_readme_quick_start_is_two_commands() -> None:
    quick = README[README.index("## Quick start"):README.index("## Architecture")]
    blocks = re.findall(r"```bash\n(.*?)```", quick, re.S)
    assert [b.strip() for b in blocks] == [
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/mlops-infra plan --stack dev",
        ".venv/bin/python -m pytest",
    ]
    assert ".venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text()
