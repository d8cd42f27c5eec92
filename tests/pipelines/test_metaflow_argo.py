"""Metaflow's flows run: an Argo controller watches Metaflow's namespace (KFP's runs `--namespaced` in kubeflow),
with a Role there, and Argo's executor in each step pod has the flows' ServiceAccount token and the verbs it uses.
Judged on the rendered controller (the all-engines plan with the kustomize Directories rendered at their pins)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.pipelines import metaflow as mf
from mlops_infra.pipelines.config import KFP_VERSION
from mlops_infra.pipelines.metaflow_config import MetaflowConfig, metaflow_problems
from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import KFP_BASES, planned
from tests.integration.plans import VARIANTS

NEEDS_BASES = pytest.mark.charts(KFP_BASES)

NS = "metaflow"
ROLE, BINDING = "kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("pipelines", VARIANTS, render=True)


@pytest.fixture(scope="module")
def owned() -> Inventory:
    """The same plan without rendering: what the platform creates itself (no chart store needed)."""
    return planned("pipelines", VARIANTS)


def in_ns(inv: Inventory, kind: str) -> list[ResourceRecord]:
    return [r for r in inv.resources if r.type.rsplit(":", 1)[1] == kind
            and (r.inputs.get("metadata") or {}).get("namespace") == NS]


def allows(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(group in r.get("apiGroups", []) and resource in r.get("resources", []) and verb in r.get("verbs", [])
               for r in rules)


def bound_rules(inv: Inventory, sa: str) -> list[dict[str, Any]]:
    roles = {r.inputs["metadata"]["name"]: r.inputs.get("rules") or [] for r in in_ns(inv, "Role")}
    return [rule for b in in_ns(inv, "RoleBinding")
            if {"kind": "ServiceAccount", "name": sa, "namespace": NS} in b.inputs["subjects"]
            for rule in roles.get(b.inputs["roleRef"]["name"], [])]


@NEEDS_BASES
def test_an_argo_controller_watches_metaflows_namespace(inv: Inventory) -> None:
    (controller,) = [d for d in in_ns(inv, "Deployment") if d.name == mf.ARGO_CONTROLLER]
    assert controller.options.get("rendered"), "the controller is the pinned upstream one, rendered"
    spec = controller.inputs["spec"]["template"]["spec"]
    args = spec["containers"][0]["args"]
    # `--namespaced` without `--managed-namespace`: the controller's own namespace (Argo v4.0.5 cmd flags).
    assert "--namespaced" in args and not [a for a in args if a.startswith("--managed-namespace")]
    # Its account may create pods and run workflows there, through a Role (no cluster-wide rights).
    rules = bound_rules(inv, spec["serviceAccountName"])
    assert allows(rules, "", "pods", "create") and allows(rules, "argoproj.io", "workflows", "update")
    assert allows(rules, "argoproj.io", "workflowtemplates", "get")
    cluster = [r.name for r in inv.resources if r.options.get("rendered") and "metaflow-argo" in r.urn
               and r.type.rsplit(":", 1)[1] in ("ClusterRole", "ClusterRoleBinding", "PriorityClass")]
    assert not cluster
    # The PriorityClass it names comes from Kubeflow Pipelines' install (one owner).
    assert [r for r in inv.resources if r.type.endswith(":PriorityClass")
            and r.inputs["metadata"]["name"] == spec["priorityClassName"]]
    # The controller's config keeps KFP's executor hardening and drops its SeaweedFS repository.
    (cm,) = [c for c in in_ns(inv, "ConfigMap") if c.name == "workflow-controller-configmap"]
    assert "executor" in cm.inputs["data"] and "artifactRepository" not in cm.inputs["data"]


def test_the_executor_has_a_token_and_may_report_results(owned: Inventory) -> None:
    (sa,) = [s for s in in_ns(owned, "ServiceAccount") if s.inputs["metadata"]["name"] == mf.FLOWS_SERVICE_ACCOUNT]
    assert sa.inputs["automountServiceAccountToken"] is True
    rules = bound_rules(owned, mf.FLOWS_SERVICE_ACCOUNT)
    assert allows(rules, "argoproj.io", "workflowtaskresults", "create")
    assert allows(rules, "argoproj.io", "workflowtaskresults", "patch")


def test_the_argo_manifests_are_pinned_to_kfps_release_and_namespace() -> None:
    doc = yaml.safe_load((Path(mf.ARGO_MANIFESTS) / "kustomization.yaml").read_text())
    assert {r.rsplit("?ref=", 1)[1] for r in doc["resources"]} == {KFP_VERSION}
    assert doc["namespace"] == MetaflowConfig().namespace
    problems = dict(metaflow_problems(MetaflowConfig(enabled=True, namespace="flows", task_image="r/step:1"), kubeflow_pipelines=True,
                                      gpu_pools=[]))
    assert set(problems) == {"namespace"}
