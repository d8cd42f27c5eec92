"""No example installs on the platform's cluster what the platform already has there: every example's Helm releases
(release name, namespace), namespaced objects (kind, namespace, name) and cluster-scoped objects (kind, name),
charts rendered, are compared with the dev platform's rendered plan (for a stack of NOT_DEV, with the plan of the
dev platform less the cluster add-ons that platform lacks). Helm refuses a release name in use in its namespace and
a chart object another release owns; pulumi-kubernetes gets AlreadyExists for an object another stack created."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import pytest

from mlops_infra.blocks.cluster_add_ons import ADD_ONS
from mlops_infra.plan import Inventory, PlanError, ResourceRecord, plan_program
from mlops_infra.plan.render import CLUSTER_SCOPED, RELEASE, render_inventory
from tests.conftest import EXAMPLES, planned
from tests.test_examples import NOT_DEV, cases, plan

ADD_ON_TYPES = {"clusterAutoscaler": "mlops:compute:ClusterAutoscaler", "gpuSoftware": "mlops:compute:GpuSoftware",
                "monitoring": "mlops:observability:MonitoringCore"}
"""The component that installs each add-on a NOT_DEV platform lacks (its objects are not on that cluster)."""
OWN_CLUSTER = {"training_cluster"}
"""Examples that build their own EKS cluster: nothing of theirs lands on the platform's."""
Key = tuple[str, ...]
_RENDERED: dict[tuple[str, str], Inventory] = {}


def rendered(example: str, stack: str) -> Inventory:
    """The example's plan with its charts rendered (a copy: test_examples' inventory stays as planned)."""
    if (example, stack) not in _RENDERED:
        inv = copy.copy(plan(example, stack))
        inv.resources = list(inv.resources)
        render_inventory(inv, base=EXAMPLES / example)
        _RENDERED[(example, stack)] = inv
    return _RENDERED[(example, stack)]


def _scopes(*inventories: Inventory) -> dict[tuple[str, str], str]:
    """(group, kind) -> scope, from the CRDs the plans hold."""
    found: dict[tuple[str, str], str] = {}
    for inv in inventories:
        for crd in inv.of_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"):
            spec = crd.inputs.get("spec") or {}
            found[(str(spec.get("group")), str((spec.get("names") or {}).get("kind")))] = str(spec.get("scope"))
    return found


def footprint(resources: Iterable[ResourceRecord], scopes: dict[tuple[str, str], str],
              without: frozenset[str] = frozenset()) -> dict[Key, str]:
    """What the resources put on the cluster, by identity there: `("release", namespace, name)`,
    `("namespaced", group/kind, namespace, name)`, `("cluster", group/kind, name)` -> URN. Objects named by Pulumi
    (no metadata.name: a random suffix) cannot collide. `without`: component types whose objects are left out."""
    found: dict[Key, str] = {}
    for r in resources:
        chain = r.urn.split("::")[2].split("$")
        if not r.custom or not r.type.startswith("kubernetes:") or set(chain) & without:
            continue
        if r.type == RELEASE:
            if r.inputs.get("name"):
                found[("release", str(r.inputs.get("namespace") or "default"), str(r.inputs["name"]))] = r.urn
            continue
        meta = r.inputs.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            continue
        group, kind = r.type.split(":")[1].rsplit("/", 1)[0], r.type.rsplit(":", 1)[1]
        if kind in CLUSTER_SCOPED or scopes.get((group, kind)) == "Cluster" or kind.startswith("Cluster"):
            found[("cluster", f"{group}/{kind}", str(meta["name"]))] = r.urn
        else:
            found[("namespaced", f"{group}/{kind}", str(meta.get("namespace") or "default"), str(meta["name"]))] = r.urn
    return found


def platform_footprint(example: str, stack: str, scopes: dict[tuple[str, str], str]) -> dict[Key, str]:
    """What the referenced platform has on its cluster: the dev platform's rendered plan, less the add-ons a NOT_DEV
    platform lacks."""
    lacks = NOT_DEV[(example, stack)][2] if (example, stack) in NOT_DEV else frozenset()
    # An add-on the tests' platform adds to dev's outputs (the External Secrets operator, tests/platform/
    # test_standalone.py) is not in dev's plan: nothing of it to take away.
    extra = {a for a in lacks if a not in ADD_ON_TYPES}
    assert not extra & set(planned("dev").outputs["clusterAddOns"]), extra  # type: ignore[operator]
    return footprint(planned("dev", render=True), scopes, frozenset(ADD_ON_TYPES[a] for a in lacks - extra))


def test_the_platform_and_the_examples_have_objects_of_every_kind() -> None:
    """The comparison below sees releases, namespaced and cluster-scoped objects on both sides."""
    assert set(ADD_ON_TYPES) <= set(ADD_ONS)
    platform = footprint(planned("dev", render=True), _scopes(planned("dev", render=True)))
    examples: dict[Key, str] = {}
    for case in cases():
        examples.update(footprint(rendered(*case), _scopes(rendered(*case))))
    for side in (platform, examples):
        assert {key[0] for key in side} == {"release", "namespaced", "cluster"}
    assert ("release", "monitoring", "kube-prometheus-stack") in platform  # the platform's monitoring core
    assert ("release", "kube-system", "cluster-autoscaler") in platform
    own = [c for c in cases() if c[0] in OWN_CLUSTER]
    assert own and all(len(plan(*c).of_type("aws:eks/cluster:Cluster")) == 1 for c in own)


@pytest.mark.parametrize(("example", "stack"), [c for c in cases() if c[0] not in OWN_CLUSTER])
def test_an_example_installs_nothing_the_platform_has_on_its_cluster(example: str, stack: str) -> None:
    inv = rendered(example, stack)
    assert inv.of_type("aws:eks/cluster:Cluster") == []  # on the platform's cluster, not one of its own
    scopes = _scopes(inv, planned("dev", render=True))
    mine, theirs = footprint(inv, scopes), platform_footprint(example, stack, scopes)
    assert theirs
    assert {key: mine[key] for key in sorted(set(mine) & set(theirs))} == {}


def test_a_second_monitoring_core_on_the_dev_platforms_cluster_is_refused_naming_the_fact() -> None:
    """The dev platform runs a MonitoringCore (`monitoring` in its `clusterAddOns`): the example planned on its real
    outputs fails at plan time, naming the output and the fix."""
    assert "monitoring" in planned("dev").outputs["clusterAddOns"]
    with pytest.raises(PlanError, match=r"`monitoring` is in the platform stack's `clusterAddOns` output.*"
                                        r"build this component on a cluster whose `clusterAddOns` lacks"):
        plan_program(EXAMPLES / "monitoring_core", "bare",
                     stack_refs={"organization/mlops-platform/bare": planned("dev").outputs})
