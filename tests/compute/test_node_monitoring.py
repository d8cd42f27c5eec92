"""eks-node-monitoring-agent: every DaemonSet it relies on runs on every node that node auto repair acts on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.compute.gpu_config import K8S_TAINT_EFFECT
from mlops_infra.plan import Inventory
from tests.compute.test_cluster import COMPUTE
from tests.conftest import planned
from tests.nonempty import each

# aws/eks-node-monitoring-agent v1.6.2 charts/eks-node-monitoring-agent values.yaml: the chart's defaults for the
# two DaemonSets (the agent, and dcgm-server whose DCGM the agent's NVIDIA monitor reads).
CHART_TOLERATIONS: dict[str, list[dict[str, str]]] = {"nodeAgent": [{"operator": "Exists"}], "dcgmAgent": []}


@pytest.fixture(scope="module", params=["dev", "prod"])
def inv(request: pytest.FixtureRequest) -> Inventory:
    return planned(request.param, COMPUTE)


def tolerates(toleration: dict[str, str], taint: dict[str, str]) -> bool:
    """Kubernetes toleration matching (core/v1 Toleration.ToleratesTaint)."""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("key") and toleration["key"] != taint["key"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint["key"]
    return bool(toleration.get("key")) and toleration.get("value", "") == taint.get("value", "")


def effective_tolerations(inv: Inventory) -> dict[str, list[dict[str, str]]]:
    (agent,) = [a for a in inv.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "eks-node-monitoring-agent"]
    values: dict[str, Any] = json.loads(agent.inputs.get("configurationValues") or "{}")
    return {ds: values.get(ds, {}).get("tolerations", default) for ds, default in CHART_TOLERATIONS.items()}


def test_agent_daemonsets_tolerate_every_taint_of_every_repaired_node_group(inv: Inventory) -> None:
    repaired = [g for g in inv.of_type("aws:eks/nodeGroup:NodeGroup")
                if (g.inputs.get("nodeRepairConfig") or {}).get("enabled")]
    assert repaired, "no node group repairs"
    taints = [{"key": t["key"], "value": t.get("value", ""), "effect": K8S_TAINT_EFFECT[t["effect"]]}
              for g in repaired for t in g.inputs.get("taints") or []]
    if inv.stack == "prod":
        assert {t["key"] for t in taints} >= {"nvidia.com/gpu"}, "prod's GPU pools carry the GPU taint"
    for daemonset, tolerations in each(effective_tolerations(inv).items()):
        for taint in taints:
            assert any(tolerates(t, taint) for t in tolerations), f"{daemonset} cannot run under {taint}"


def test_the_relation_catches_the_chart_default() -> None:
    gpu = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    assert not any(tolerates(t, gpu) for t in CHART_TOLERATIONS["dcgmAgent"])
    assert not tolerates({"key": "other", "operator": "Exists"}, gpu)
    assert tolerates({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, gpu)
