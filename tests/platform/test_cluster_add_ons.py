"""The platform's `clusterAddOns` output lists exactly the cluster-wide singletons its plan installs."""

from __future__ import annotations

import pytest

from mlops_infra.blocks.cluster_add_ons import ADD_ONS
from mlops_infra.plan import Inventory
from tests.conftest import planned

COMPONENTS = {"clusterAutoscaler": "mlops:compute:ClusterAutoscaler", "gpuSoftware": "mlops:compute:GpuSoftware",
              "karpenter": "mlops:compute:Karpenter", "loadBalancerController": "mlops:compute:LoadBalancerController",
              "monitoring": "mlops:observability:MonitoringCore", "externalSecrets": "mlops:security:SecretsDelivery",
              "kserve": "mlops:serving:ModelServing", "kubeflowPipelines": "mlops:pipelines:KubeflowPipelines"}
CHARTS = {"kubeflowTrainer": "kubeflow-trainer", "kuberay": "kuberay-operator"}
"""The training operators are releases of TrainingFoundations (part of TrainingCluster), by chart."""


def runs(inv: Inventory) -> list[str]:
    found = {a for a, t in COMPONENTS.items() if inv.of_type(t)}
    charts = {str(r.inputs.get("chart", "")).rsplit("/", 1)[-1] for r in inv.of_type("kubernetes:helm.sh/v3:Release")}
    return sorted(found | {a for a, chart in CHARTS.items() if chart in charts})


def test_each_add_on_has_its_installer_here() -> None:
    assert set(COMPONENTS) | set(CHARTS) == set(ADD_ONS)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_output_lists_what_the_plan_installs(stack: str) -> None:
    inv = planned(stack)
    assert {"monitoring", "gpuSoftware"} <= set(runs(inv))
    assert inv.outputs["clusterAddOns"] == runs(inv)
