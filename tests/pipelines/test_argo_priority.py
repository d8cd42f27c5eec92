"""Every rendered pod's PriorityClass exists, once, and what applies the pod waits for what creates the class
(else admission refuses the pod and Pulumi's await times out). Both Argo controllers (Kubeflow Pipelines' and
Metaflow's) name `workflow-controller` (argo-workflows v4.0.5 manifests/base/workflow-controller); Metaflow's must not
wait for KFP's database, and its Directory applies Argo custom resources only after the CRDs exist."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.pipelines import kfp
from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import KFP_BASES, planned
from tests.integration.plans import VARIANTS
from tests.nonempty import each

pytestmark = pytest.mark.charts(KFP_BASES)

POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("pipelines", VARIANTS, render=True)


def pod_spec(r: ResourceRecord) -> dict[str, Any]:
    spec = r.inputs.get("spec") or {}
    return spec if r.type.endswith(":Pod") else (spec.get("template") or {}).get("spec") or {}


def producer(r: ResourceRecord) -> str:
    """The URN Pulumi applies an object through: its Directory or release when rendered, else its own."""
    rendered = r.options.get("rendered")
    return str(rendered["release"]) if rendered else r.urn


def waits_for(inv: Inventory, urn: str, target: str) -> bool:
    """`urn` is applied after `target`: the same Directory, or `target` among its (transitive) dependencies."""
    by_urn = {r.urn: r for r in inv.resources}
    seen, todo = set(), [urn]
    while todo:
        u = todo.pop()
        if u == target:
            return True
        if u not in seen and u in by_urn:
            seen.add(u)
            todo += list(by_urn[u].options.get("dependsOn") or [])
    return False


def test_every_rendered_pods_priority_class_is_created_before_it(inv: Inventory) -> None:
    classes: dict[str, list[ResourceRecord]] = {}
    for c in inv.resources:
        if c.type.endswith(":PriorityClass"):
            classes.setdefault(c.inputs["metadata"]["name"], []).append(c)
    pods = [r for r in inv.resources if r.options.get("rendered") and r.type.rsplit(":", 1)[1] in POD_KINDS
            and pod_spec(r).get("priorityClassName", "system-").split("-")[0] != "system"]
    argo = [p for p in pods if pod_spec(p)["priorityClassName"] == kfp.ARGO_PRIORITY_CLASS]
    assert len(argo) == 2, [p.urn for p in argo]  # KFP's controller and Metaflow's
    for pod in each(pods):
        name = pod_spec(pod)["priorityClassName"]
        owners = classes.get(name, [])
        assert len(owners) == 1, f"{pod.urn}: PriorityClass {name!r} has {len(owners)} owners"
        assert waits_for(inv, producer(pod), producer(owners[0])), f"{pod.urn} does not wait for {name!r}"


def test_metaflows_argo_waits_for_the_crds_and_not_for_kfps_database(inv: Inventory) -> None:
    (directory,) = [r for r in inv.resources if r.type.endswith(":Directory") and r.name.endswith("metaflow-argo")]
    crds = [r for r in inv.resources if r.type.endswith(":CustomResourceDefinition")
            and r.inputs["spec"]["group"] == "argoproj.io"]
    assert crds and all(waits_for(inv, directory.urn, producer(c)) for c in crds)
    (db,) = [r for r in inv.of_type("aws:rds/instance:Instance") if r.name.endswith("kfp-db")]
    assert not waits_for(inv, directory.urn, db.urn)
