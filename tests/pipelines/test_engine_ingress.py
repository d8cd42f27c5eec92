"""Who may call the engines' own APIs (no auth on either): Prefect's server (port 4200) and Metaflow's metadata
service (port 8080) admit their namespace's pods (the worker and flow runs; the step pods) and no other namespace.
Read from the planned NetworkPolicies and the pods the charts render (tests/netpol_eval.py judges both ends)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.plan import Inventory, ResourceRecord, plan_program
from tests import netpol_eval
from tests.integration.plans import VARIANTS
from tests.nonempty import each

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
OTHER_NAMESPACES = ("default", "kubeflow", "airflow", "monitoring", "ml-team")


@pytest.fixture(scope="module")
def inv() -> Inventory:
    """The all-engines variant with its charts rendered (the pods' labels and ports come from the charts)."""
    return plan_program(VARIANTS, "pipelines", render=True)


def rendered_deployment(inv: Inventory, namespace: str, name: str) -> ResourceRecord:
    if not [r for r in inv.rendering if r.get("status") == "rendered" and name in str(r.get("chart"))]:
        pytest.skip(f"chart {name} is not in this machine's store (mlops-infra charts pull)")
    (found,) = [r for r in inv.rendered() if r.type == DEPLOYMENT and r.inputs["metadata"]["name"] == name
                and r.inputs["metadata"].get("namespace", namespace) == namespace]
    return found


def pod_of(deployment: ResourceRecord, namespace: str) -> tuple[netpol_eval.Pod, list[int]]:
    """The Deployment's pod (its template labels) and the ports its containers listen on."""
    template: dict[str, Any] = deployment.inputs["spec"]["template"]
    ports = [p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])]
    return netpol_eval.Pod(namespace, template["metadata"]["labels"]), ports


@pytest.mark.parametrize(("namespace", "server", "clients"), [
    ("prefect", "prefect-server", ["prefect-worker"]),
    ("metaflow", "metaflow-service", []),
])
def test_only_the_engines_namespace_reaches_its_api(inv: Inventory, namespace: str, server: str,
                                                    clients: list[str]) -> None:
    policies = netpol_eval.policies_in(inv)
    dest, ports = pod_of(rendered_deployment(inv, namespace, server), namespace)
    # The chart's pods and a pod the engine starts (a flow run / a step: a Job's or Argo's labels).
    sources = [pod_of(rendered_deployment(inv, namespace, c), namespace)[0] for c in clients]
    sources.append(netpol_eval.Pod(namespace, {"job-name": "run-1", "workflows.argoproj.io/workflow": "wf"}))
    for port in each(ports):
        for source in each(sources):
            assert netpol_eval.allows(policies, source, dest, port), (source, port)
        for other in each(OTHER_NAMESPACES):
            assert not netpol_eval.allows(policies, netpol_eval.Pod(other, {"app": "x"}), dest, port), (other, port)
    # It is this policy that keeps other namespaces out: without it another namespace's pod gets through.
    (own,) = [p for p in inv.of_type(netpol_eval.NETWORK_POLICY)
              if p.inputs["metadata"]["name"] == f"{server}-ingress"]
    rest = [p for p in policies if p.spec is not own.inputs["spec"]]
    assert netpol_eval.allows(rest, netpol_eval.Pod("default", {"app": "x"}), dest, ports[0])
