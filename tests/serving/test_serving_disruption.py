"""Model pods through a node drain (tests/programs/serving_canary, planned): a PodDisruptionBudget per model that
selects the pods KServe v0.20.0 creates for it, stable and canary, spread over zones and nodes; two KServe
controller pods (its pod mutator is `failurePolicy: Fail`) under their own budget."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra import charts
from mlops_infra.plan import Inventory
from mlops_infra.plan.render import render_chart
from mlops_infra.serving import manifests
from mlops_infra.serving.config import KSERVE_VERSION
from mlops_infra.serving.model_serving import KSERVE_CHARTS
from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
PATCH = "kubernetes:apps/v1:DeploymentPatch"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("test", PROGRAMS / "serving_canary")


def _kserve_pods(isvc: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{Deployment: pod labels} as KServe v0.20.0 makes them in Standard mode: predictor.go buildObjectMeta unions
    the runtime's, the InferenceService's and the predictor's labels with `serving.kserve.io/inferenceservice` and
    `component: predictor`; deployment_reconciler createRawDefaultDeployment adds `app: isvc.<Deployment>`. A canary
    is the stable predictor merged with its own (buildCanaryPredictor), named PredictorServiceName(isvc, name)."""
    name, spec = isvc["metadata"]["name"], isvc["spec"]
    base = {**isvc["metadata"].get("labels", {}), **spec["predictor"].get("labels", {}),
            "serving.kserve.io/inferenceservice": name, "component": "predictor"}
    deployments = [f"{name}-predictor", *(f"{name}-{c['predictor']['name']}-predictor" for c in spec.get("canary", []))]
    return {d: {**base, "app": f"isvc.{d}"} for d in deployments}


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, selector
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def _pdbs(inv: Inventory, namespace: str) -> list[dict[str, Any]]:
    return [r.inputs for r in inv.of_type(PDB) if r.inputs["metadata"]["namespace"] == namespace]


def test_each_models_budget_selects_its_stable_and_canary_pods_and_no_other_models(inv: Inventory) -> None:
    isvcs = [r.inputs for r in inv.of_type(ISVC)]
    assert any(i["spec"].get("canary") for i in isvcs), "the program has a canary"
    budgets = _pdbs(inv, "serving")
    for isvc in each(isvcs):
        pods = _kserve_pods(isvc)
        covering = [b for b in budgets if any(_matches(b["spec"]["selector"], labels) for labels in pods.values())]
        assert len(covering) == 1, isvc["metadata"]["name"]  # two budgets over one pod block its eviction
        (budget,) = covering
        assert all(_matches(budget["spec"]["selector"], labels) for labels in each(pods.values()))
        others = [labels for i in isvcs if i is not isvc for labels in _kserve_pods(i).values()]
        assert not any(_matches(budget["spec"]["selector"], labels) for labels in others)


def test_a_budget_never_blocks_a_drain_and_spends_one_pod_at_a_time(inv: Inventory) -> None:
    for budget in each(_pdbs(inv, "serving")):
        assert budget["spec"]["maxUnavailable"] == 1 and "minAvailable" not in budget["spec"]
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_the_predictor_spreads_its_pods_over_zones_and_nodes(inv: Inventory) -> None:
    for isvc in each([r.inputs for r in inv.of_type(ISVC)]):
        constraints = isvc["spec"]["predictor"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in constraints} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for c in constraints:
            # counted over the model's own pods (stable and canary: the canary inherits the stable pod spec)
            assert all(_matches(c["labelSelector"], labels) for labels in each(_kserve_pods(isvc).values()))
            assert c["whenUnsatisfiable"] == "ScheduleAnyway" and c["maxSkew"] == 1


@pytest.mark.charts("kserve-resources")
def test_two_controller_pods_serve_the_webhooks_and_their_budget_selects_them(inv: Inventory) -> None:
    stored = charts.find(f"{KSERVE_CHARTS}/kserve-resources", "", KSERVE_VERSION)
    assert stored is not None, f"kserve-resources {KSERVE_VERSION} not in the chart store (README: Rendering)"
    rendered = render_chart(stored, manifests.kserve_values("us-east-1"), "kserve", "kserve", skip_crds=True)
    (deployment,) = [o for o in rendered if o["kind"] == "Deployment"
                     and o["metadata"]["name"] == manifests.KSERVE_CONTROLLER]
    (webhook_service,) = [o for o in rendered if o["kind"] == "Service"
                          and o["metadata"]["name"] == "kserve-webhook-server-service"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (manager,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "manager"]
    assert "--leader-elect" in manager["args"]  # two pods: one reconciles
    assert "replicas" not in deployment["spec"], "the chart now sets replicas: use its value, drop the patch"
    (patch,) = inv.of_type(PATCH)
    assert patch.inputs["metadata"]["name"] == manifests.KSERVE_CONTROLLER
    assert patch.inputs["spec"] == {"replicas": 2}
    (budget,) = _pdbs(inv, "kserve")
    assert _matches(budget["spec"]["selector"], pod_labels)
    assert budget["spec"]["maxUnavailable"] == 1
    # both pods answer the webhooks: the Service selects every controller pod, not the leader
    assert all(pod_labels.get(k) == v for k, v in each(webhook_service["spec"]["selector"].items()))


def test_the_controller_replica_patch_forces_the_field_helm_owns(prod_plan: Any) -> None:
    # Helm creates the Deployment client-side and the API server defaults spec.replicas under Helm's field manager:
    # a server-side apply of a Patch conflicts unless forced (pulumi-kubernetes await.go patchForce).
    [patch] = [r for r in prod_plan.of_type("kubernetes:apps/v1:DeploymentPatch")
               if r.inputs["metadata"]["name"] == "kserve-controller-manager"]
    assert patch.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"


@pytest.mark.charts("kserve-resources")
def test_the_two_controller_pods_spread_over_nodes(prod_plan: Any) -> None:
    [controller] = [r for r in planned("prod", render=True).of_type("kubernetes:apps/v1:Deployment")
                    if r.inputs["metadata"]["name"] == manifests.KSERVE_CONTROLLER]
    template = controller.inputs["spec"]["template"]
    [spread] = template["spec"]["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    labels = template["metadata"]["labels"]
    assert spread["labelSelector"]["matchLabels"].items() <= labels.items()  # it selects the controller's own pods
