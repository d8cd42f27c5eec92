"""`mlops-infra graph`: components as subgraphs, key resources as nodes, real dependencies as edges."""

from __future__ import annotations

import re

from mlops_infra.plan.graph import mermaid
from tests.conftest import planned


def nodes_and_edges(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    nodes = {m.group(2): m.group(1) for m in re.finditer(r'^\s+(n\d+)\["[^"]*<br/>([^"]+)"\]$', text, re.M)}
    ids = {v: k for k, v in nodes.items()}
    edges = {(ids[a], ids[b]) for a, b in re.findall(r"^\s+(n\d+) --> (n\d+)$", text, re.M) if a in ids and b in ids}
    return nodes, edges


def test_prod_graph_edges_follow_dependencies() -> None:
    text = mermaid(planned("prod"))
    assert text.startswith("flowchart LR\n")
    _, edges = nodes_and_edges(text)
    # the cluster's key encrypts its secrets; node groups join the cluster; the registry key encrypts the artifacts
    assert ("mlops-prod-eks-key", "mlops-prod-eks") in edges
    assert ("mlops-prod-eks", "mlops-prod-gpu-od-p5") in edges
    assert ("mlops-prod-registry-key", "mlops-prod-registry-artifacts") in edges
    assert ("mlops-prod-data-key", "mlops-prod-features-offline") in edges


def test_components_are_subgraphs_and_leaf_noise_is_left_out() -> None:
    text = mermaid(planned("prod"))
    assert 'subgraph n1["mlops-prod<br/>mlops:platform:MlopsPlatform"]' in text
    assert "RolePolicy" not in text and "routeTableAssociation" not in text


def test_graph_is_deterministic() -> None:
    assert mermaid(planned("dev")) == mermaid(planned("dev"))
