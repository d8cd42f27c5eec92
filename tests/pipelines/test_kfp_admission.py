"""The KFP database-Secret admission policy, evaluated by a real CEL evaluator (cel-python) on admission requests
built from the rendered manifests: every pod and workload the kustomize base renders is admitted as the cluster
would receive it, and the ways the runner (or Argo, or a pod-creator) could reach the database credentials are
refused.

The evaluator is not the API server's cel-go: the policy's variables are inlined (the API server evaluates them
lazily, as inlining does under `||`), and Kubernetes' CEL extensions are not used by the policy."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from mlops_infra.pipelines import kfp, kfp_admission
from mlops_infra.plan import Inventory
from tests.conftest import KFP_BASES, planned
from tests.integration.plans import VARIANTS

celpy = pytest.importorskip("celpy")

NS = "kubeflow"
ARGO = f"system:serviceaccount:{NS}:argo"
RUNNER = f"system:serviceaccount:{NS}:{kfp.RUNNER_SA}"
RESTARTER = f"system:serviceaccount:{NS}:{kfp_admission.RESTARTER}"
RS_CONTROLLER = kfp_admission.POD_CREATORS[0]
DEPLOYER = "arn:aws:sts::123456789012:assumed-role/deployer/pulumi"


def _planned_policy(inv: Inventory) -> dict[str, Any]:
    [policy] = [r.inputs for r in inv.resources if r.type.endswith(":ValidatingAdmissionPolicy")]
    [binding] = [r.inputs for r in inv.resources if r.type.endswith(":ValidatingAdmissionPolicyBinding")]
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": NS}
    return dict(policy["spec"])


def _inline(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(expression, message) of each validation with `variables.<name>` replaced by the variable's expression."""
    variables = {v["name"]: v["expression"] for v in spec["variables"]}

    def expand(expr: str) -> str:
        while "variables." in expr:
            expr = re.sub(r"variables\.(\w+)", lambda m: f"({variables[m.group(1)]})", expr)
        return expr
    return [(expand(v["expression"]), v["message"]) for v in spec["validations"]]


class Policy:
    def __init__(self, spec: dict[str, Any]) -> None:
        env = celpy.Environment()
        self.programs = [(env.program(env.compile(expr)), msg) for expr, msg in _inline(spec)]
        self.rules = spec["matchConstraints"]["resourceRules"]

    def matches(self, resource: str, sub: str, operation: str) -> bool:
        full = f"{resource}/{sub}" if sub else resource
        return any(full in r["resources"] and operation in r["operations"] for r in self.rules)

    def refusals(self, *, user: str, operation: str, resource: str, obj: dict[str, Any] | None = None,
                 old: dict[str, Any] | None = None, sub: str = "", name: str = "") -> list[str]:
        """The messages of the validations that refuse this request (empty: admitted)."""
        assert self.matches(resource, sub, operation), (resource, sub, operation)
        request = {"operation": operation, "resource": {"resource": resource}, "subResource": sub, "name": name,
                   "userInfo": {"username": user}}
        activation = {"request": celpy.json_to_cel(request), "object": celpy.json_to_cel(obj or {}),
                      "oldObject": celpy.json_to_cel(old or {})}
        out = []
        for program, message in self.programs:
            result = program.evaluate(activation)
            assert isinstance(result, celpy.celtypes.BoolType), (message, result)  # an error refuses too
            if not result:
                out.append(message)
        return out


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("pipelines", VARIANTS, render=True)


@pytest.fixture(scope="module")
def policy(inv: Inventory) -> Policy:
    return Policy(_planned_policy(inv))


def _workloads(inv: Inventory) -> list[dict[str, Any]]:
    return [r.inputs for r in inv.resources if r.options.get("rendered")
            and r.inputs.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job")
            and r.inputs["metadata"].get("namespace") == NS]


def _pod(template_spec: dict[str, Any]) -> dict[str, Any]:
    """The pod the API server validates: the ServiceAccount admission plugin has set `serviceAccountName`."""
    spec = copy.deepcopy(template_spec)
    spec.setdefault("serviceAccountName", "default")
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec}


def _resource(kind: str) -> str:
    return {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs"}[kind]


@pytest.mark.charts(KFP_BASES)
def test_every_rendered_workload_and_its_pods_are_admitted(inv: Inventory, policy: Policy) -> None:
    workloads = _workloads(inv)
    assert workloads, "the kustomize base renders workloads in the KFP namespace"
    readers = {w["metadata"]["name"] for w in workloads if w["spec"]["template"]["spec"].get("serviceAccountName")
               in kfp.DB_READERS.values()}
    assert readers == set(kfp.DB_WORKLOADS), "the guarded readers are the rendered Deployments"
    for w in workloads:
        resource = _resource(w["kind"])
        assert policy.refusals(user=DEPLOYER, operation="CREATE", resource=resource, obj=w) == [], w["metadata"]
        pod = _pod(w["spec"]["template"]["spec"])
        creator = RS_CONTROLLER if w["kind"] == "Deployment" else "system:serviceaccount:kube-system:job-controller"
        assert policy.refusals(user=creator, operation="CREATE", resource="pods", obj=pod) == [], w["metadata"]


@pytest.mark.charts(KFP_BASES)
def test_the_restarter_may_roll_a_reader_but_not_change_its_pods(inv: Inventory, policy: Policy) -> None:
    [api] = [w for w in _workloads(inv) if w["metadata"]["name"] == "ml-pipeline"]
    rolled = copy.deepcopy(api)
    rolled["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})["restartedAt"] = "now"
    assert policy.refusals(user=RESTARTER, operation="UPDATE", resource="deployments", obj=rolled, old=api) == []
    changed = copy.deepcopy(rolled)
    changed["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "env"]
    assert policy.refusals(user=RESTARTER, operation="UPDATE", resource="deployments", obj=changed, old=api)


def _step(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"serviceAccountName": kfp.RUNNER_SA,
                            "containers": [{"name": "main", "image": "python:3.12-slim"}], **extra}
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec}


SECRET = kfp.DB_SECRET
READS = {
    "volume": {"volumes": [{"name": "db", "secret": {"secretName": SECRET}}]},
    "projected": {"volumes": [{"name": "db", "projected": {"sources": [{"secret": {"name": kfp.MLMD_SECRET}}]}}]},
    "env": {"containers": [{"name": "main", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {
        "name": SECRET, "key": "password"}}}]}]},
    "envFrom": {"initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": SECRET}}]}],
                "containers": [{"name": "main"}]},
}


@pytest.mark.parametrize("way", sorted(READS))
def test_a_runner_pod_reading_a_database_secret_is_refused(policy: Policy, way: str) -> None:
    pod = _step(**READS[way])
    assert policy.refusals(user=ARGO, operation="CREATE", resource="pods", obj=pod)
    ordinary = _step()
    assert policy.refusals(user=ARGO, operation="CREATE", resource="pods", obj=ordinary) == []


def test_borrowing_a_readers_identity_is_refused(policy: Policy) -> None:
    as_api = _step(**READS["volume"])
    as_api["spec"]["serviceAccountName"] = kfp.API_SA
    assert policy.refusals(user=ARGO, operation="CREATE", resource="pods", obj=as_api), "a Workflow naming the SA"
    assert policy.refusals(user=RUNNER, operation="CREATE", resource="pods", obj=as_api), "a step creating a pod"
    deployment = {"kind": "Deployment", "spec": {"template": {"spec": as_api["spec"]}}}
    assert policy.refusals(user=RUNNER, operation="CREATE", resource="deployments", obj=deployment)
    assert policy.refusals(user=RUNNER, operation="CREATE", resource="replicasets", obj=deployment)
    job = {"kind": "Job", "spec": {"template": {"spec": _step(**READS["env"])["spec"]}}}
    assert policy.refusals(user=RUNNER, operation="CREATE", resource="jobs", obj=job)


def test_no_ephemeral_container_or_exec_into_a_reader(policy: Policy) -> None:
    api_pod = _step()
    api_pod["spec"]["serviceAccountName"] = kfp.API_SA
    assert policy.refusals(user=RUNNER, operation="UPDATE", resource="pods", sub="ephemeralcontainers", obj=api_pod,
                           old=api_pod)
    for name in ("ml-pipeline-7d9f8c6b5-x2b4z", "metadata-grpc-deployment-5c8d9f7b6-abcde"):
        assert policy.refusals(user=RUNNER, operation="CONNECT", resource="pods", sub="exec", name=name), name
        assert policy.refusals(user=DEPLOYER, operation="CONNECT", resource="pods", sub="exec", name=name) == []
    for name in ("ml-pipeline-ui-7d9f8c6b5-x2b4z", "my-pipeline-abc12-system-container-impl-1234567"):
        assert policy.refusals(user=RUNNER, operation="CONNECT", resource="pods", sub="exec", name=name) == [], name
