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
from tests.nonempty import each

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
    declared = _declared_deployments(inv)
    assert kfp_admission.RESTARTER in {d["metadata"]["name"] for d in declared}
    for w in each([*workloads, *declared]):
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


def test_no_ephemeral_container_or_exec_into_a_holder(policy: Policy) -> None:
    assert kfp.CREDENTIAL_HOLDERS
    for sa in (kfp.API_SA, *kfp.CREDENTIAL_HOLDERS):
        pod = _step()
        pod["spec"]["serviceAccountName"] = sa
        assert policy.refusals(user=RUNNER, operation="UPDATE", resource="pods", sub="ephemeralcontainers", obj=pod,
                               old=pod), sa
    names = ("ml-pipeline-7d9f8c6b5-x2b4z", "metadata-grpc-deployment-5c8d9f7b6-abcde",
             "workflow-controller-7d9f8c6b5-x2b4z", "rotation-restarter-5c8d9f7b6-abcde",
             "ml-pipeline-ui-7d9f8c6b5-x2b4z")
    for name in each(names):
        for sub in ("exec", "attach", "portforward"):
            assert policy.refusals(user=RUNNER, operation="CONNECT", resource="pods", sub=sub, name=name), (name, sub)
        assert policy.refusals(user=ARGO, operation="CONNECT", resource="pods", sub="exec", name=name), name
        assert policy.refusals(user=DEPLOYER, operation="CONNECT", resource="pods", sub="exec", name=name) == []
    for name in ("ml-pipeline-persistenceagent-7d9f8c6b5-x2b4z", "my-pipeline-abc12-system-container-impl-1234567"):
        assert policy.refusals(user=RUNNER, operation="CONNECT", resource="pods", sub="exec", name=name) == [], name


@pytest.mark.charts(KFP_BASES)
def test_every_pod_of_a_holder_is_named_for_the_exec_rule(inv: Inventory) -> None:
    """The exec rule matches pod names: every rendered or declared workload running as a holder is in it."""
    holders = set(kfp.DB_READERS.values()) | set(kfp.CREDENTIAL_HOLDERS)
    running = {w["metadata"]["name"]: w["spec"]["template"]["spec"].get("serviceAccountName", "default")
               for w in [*_workloads(inv), *_declared_deployments(inv)]}
    as_holder = {name for name, sa in running.items() if sa in holders}
    assert {kfp.API_SA, kfp_admission.RESTARTER, "workflow-controller"} <= as_holder, running
    assert as_holder == set(kfp_admission.HOLDER_WORKLOADS)


def _declared_deployments(inv: Inventory) -> list[dict[str, Any]]:
    return [r.inputs for r in inv.declared() if r.type == "kubernetes:apps/v1:Deployment"
            and r.inputs["metadata"].get("namespace") == NS]


@pytest.mark.charts(KFP_BASES)
def test_a_holders_pod_keeps_its_spec(inv: Inventory, policy: Policy) -> None:
    """A step may patch pods (upstream pipeline-runner Role: pods `*`): a new image in a reader's pod would run with
    its identity and Secret env. Metadata changes (the ReplicaSet controller's adoption, labels) stay admitted."""
    [api] = [w for w in _workloads(inv) if w["metadata"]["name"] == "ml-pipeline"]
    pod = _pod(api["spec"]["template"]["spec"])
    changed = copy.deepcopy(pod)
    changed["spec"]["containers"][0]["image"] = "docker.io/library/busybox:1.36"
    for user in (RUNNER, ARGO, DEPLOYER, RS_CONTROLLER):
        assert policy.refusals(user=user, operation="UPDATE", resource="pods", obj=changed, old=pod), user
    relabelled = copy.deepcopy(pod)
    relabelled["metadata"] = {"labels": {"debug": "true"}, "ownerReferences": []}
    assert policy.refusals(user=RS_CONTROLLER, operation="UPDATE", resource="pods", obj=relabelled, old=pod) == []
    step = _step()
    patched = copy.deepcopy(step)
    patched["spec"]["containers"][0]["image"] = "python:3.13-slim"
    assert policy.refusals(user=RUNNER, operation="UPDATE", resource="pods", obj=patched, old=step) == []


def test_creating_a_pod_as_any_holder_is_refused(policy: Policy) -> None:
    holders = [kfp.API_SA, *kfp.DB_READERS.values(), *kfp.CREDENTIAL_HOLDERS]
    assert kfp.CREDENTIAL_HOLDERS
    for sa in each(holders):
        pod = {"apiVersion": "v1", "kind": "Pod", "spec": {
            "serviceAccountName": sa, "automountServiceAccountToken": True,
            "containers": [{"name": "x", "image": "bitnami/kubectl"}]}}
        for user in (RUNNER, ARGO):
            assert policy.refusals(user=user, operation="CREATE", resource="pods", obj=pod), (user, sa)
        deployment = {"kind": "Deployment", "spec": {"template": {"spec": pod["spec"]}}}
        assert policy.refusals(user=RUNNER, operation="CREATE", resource="deployments", obj=deployment), sa
        assert policy.refusals(user=RS_CONTROLLER, operation="CREATE", resource="pods", obj=pod) == [], sa


SECRET_VERBS = {"get", "list", "watch", "*"}
RBAC = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def _grants_secrets(rules: list[dict[str, Any]], guarded: set[str]) -> bool:
    return any(set(r.get("apiGroups") or []) & {"", "*"} and set(r.get("resources") or []) & {"secrets", "*"}
               and set(r.get("verbs") or []) & SECRET_VERBS
               and (not r.get("resourceNames") or bool(set(r["resourceNames"]) & guarded)) for r in rules)


def _rbac_holders(inv: Inventory, guarded: set[str]) -> set[str]:
    """ServiceAccounts of the namespace that a RoleBinding in it, or a ClusterRoleBinding, binds to a Role or
    ClusterRole that can read a guarded Secret: rendered and declared objects alike. A subject in a RoleBinding
    without a namespace is in the binding's."""
    objs = [r.inputs for r in inv.resources if r.inputs.get("kind") in RBAC]
    roles = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o.get("rules") or []
             for o in objs if o["kind"] in ("Role", "ClusterRole")}
    bindings = [o for o in objs if o["kind"] == "ClusterRoleBinding"
                or (o["kind"] == "RoleBinding" and o["metadata"].get("namespace") == NS)]
    assert bindings and any(k == "Role" for k, _, _ in roles), "the plan renders the namespace's RBAC"
    found = set()
    for b in bindings:
        ref = b["roleRef"]
        rules = roles[(ref["kind"], NS if ref["kind"] == "Role" else "", ref["name"])]
        if not _grants_secrets(rules, guarded):
            continue
        subjects = b.get("subjects") or []
        assert all(s["kind"] == "ServiceAccount" for s in subjects), ("a group may read a guarded Secret", b)
        found |= {s["name"] for s in subjects if s.get("namespace", b["metadata"].get("namespace")) == NS}
    return found


def _irsa_holders(inv: Inventory) -> set[str]:
    """ServiceAccounts of the namespace whose IRSA role (the annotation; the role's inline policies, the same
    WorkloadIdentity) may read a Secrets Manager secret."""
    readers = {r.parent for r in inv.resources if r.type == "aws:iam/rolePolicy:RolePolicy"
               and "secretsmanager:GetSecretValue" in str(r.inputs.get("policy"))}
    accounts = [r for r in inv.declared() if r.type == "kubernetes:core/v1:ServiceAccount"
                and r.inputs["metadata"].get("namespace") == NS
                and "eks.amazonaws.com/role-arn" in (r.inputs["metadata"].get("annotations") or {})]
    assert accounts, "the namespace has IRSA ServiceAccounts"
    return {r.inputs["metadata"]["name"] for r in accounts if r.parent in readers}


@pytest.mark.charts(KFP_BASES)
def test_the_guarded_identities_are_every_one_that_can_obtain_the_credentials(inv: Inventory) -> None:
    """Derived, not listed: the ServiceAccounts the rendered RBAC lets read a database Secret and those whose IRSA
    role reads the RDS secret are, with the readers, exactly the ServiceAccounts the policy guards."""
    derived = _rbac_holders(inv, set(kfp.DB_READERS)) | _irsa_holders(inv)
    assert {"argo", "ml-pipeline-ui", f"{kfp.DB_SECRET}-reader"} <= derived, derived
    assert derived | set(kfp.DB_READERS.values()) == set(kfp.DB_READERS.values()) | set(kfp.CREDENTIAL_HOLDERS)
    assert kfp.RUNNER_SA not in derived


def _connected_services(inv: Inventory) -> set[str]:
    """The Services the readers connect to or are reached by: every host name a rendered or declared ConfigMap of
    the namespace gives (the install config's database host, the ML Metadata host), and every Service selecting a
    reader Deployment's pods."""
    objs = [r.inputs for r in inv.resources if r.inputs.get("metadata", {}).get("namespace") == NS]
    hosts = {v for o in objs if o.get("kind") == "ConfigMap" for k, v in (o.get("data") or {}).items()
             if k.endswith(("SERVICE_HOST", "mysqlHost"))}
    readers = [o for o in objs if o.get("kind") == "Deployment" and o["metadata"]["name"] in kfp.DB_WORKLOADS]
    assert len(readers) == len(kfp.DB_WORKLOADS), "the readers' Deployments are rendered"
    selecting = {o["metadata"]["name"] for o in objs if o.get("kind") == "Service" for d in readers
                 if (o.get("spec") or {}).get("selector") and o["spec"]["selector"].items()
                 <= d["spec"]["template"]["metadata"]["labels"].items()}
    return hosts | selecting


@pytest.mark.charts(KFP_BASES)
def test_the_guarded_services_are_those_the_readers_connect_to(inv: Inventory) -> None:
    derived = _connected_services(inv)
    assert {kfp.DB_HOST, "ml-pipeline"} <= derived, derived
    assert derived == set(kfp.READER_SERVICES)


def _service(name: str, external: str = "") -> dict[str, Any]:
    spec = {"type": "ExternalName", "externalName": external} if external else {"selector": {"app": "fake"}}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": spec}


@pytest.mark.parametrize("name", kfp.READER_SERVICES)
def test_a_step_repointing_a_readers_service_is_refused(policy: Policy, name: str) -> None:
    """The runner's Role has `*` on services: repointing `mysql` at a step's pod would receive the password."""
    fake, real = _service(name), _service(name, "db.example.internal")
    for user in (RUNNER, ARGO, RESTARTER):
        assert policy.refusals(user=user, operation="CREATE", resource="services", obj=fake, name=name), user
        assert policy.refusals(user=user, operation="UPDATE", resource="services", obj=fake, old=real, name=name)
        assert policy.refusals(user=user, operation="DELETE", resource="services", old=real, name=name), user
        # an admission request for CREATE may carry the name in the object only
        assert policy.refusals(user=user, operation="CREATE", resource="services", obj=fake), user
    for operation in ("CREATE", "UPDATE", "DELETE"):
        assert policy.refusals(user=DEPLOYER, operation=operation, resource="services", obj=real, old=real,
                               name=name) == []


def test_steps_keep_their_own_services(policy: Policy) -> None:
    own = _service("my-step-server")
    for operation in ("CREATE", "UPDATE", "DELETE"):
        assert policy.refusals(user=RUNNER, operation=operation, resource="services", obj=own, old=own,
                               name="my-step-server") == []


def _database_egress_labels(inv: Inventory) -> set[tuple[str, str]]:
    """(label, value) pairs the planned egress NetworkPolicies of the namespace select for the database port."""
    policies = [r.inputs for r in inv.resources if r.type.endswith(":NetworkPolicy")
                and r.inputs["metadata"].get("namespace") == NS]
    assert policies, "the namespace has planned NetworkPolicies"
    found: set[tuple[str, str]] = set()
    for p in policies:
        spec = p["spec"]
        if not any(port.get("port") == kfp.MYSQL_PORT for rule in spec.get("egress") or []
                   for port in rule.get("ports") or []):
            continue
        selector = spec["podSelector"]
        found |= set((selector.get("matchLabels") or {}).items())
        for e in selector.get("matchExpressions") or []:
            assert e["operator"] == "In", e
            found |= {(e["key"], v) for v in e["values"]}
    return found


@pytest.mark.charts(KFP_BASES)
def test_a_step_labelling_itself_into_the_database_egress_is_refused(inv: Inventory, policy: Policy) -> None:
    labels = _database_egress_labels(inv)
    assert labels, "a NetworkPolicy opens the database port"
    assert labels == set(kfp.DB_CLIENT_ACCOUNTS), labels
    for key, value in each(sorted(labels)):
        pod = _pod({"serviceAccountName": kfp.RUNNER_SA, "containers": [{"name": "main", "image": "step"}]})
        pod["metadata"] = {"labels": {key: value, kfp.WORKFLOW_LABEL: "wf"}}
        unlabelled = copy.deepcopy(pod)
        unlabelled["metadata"]["labels"].pop(key)
        assert policy.refusals(user=ARGO, operation="CREATE", resource="pods", obj=pod), (key, value)
        assert policy.refusals(user=RUNNER, operation="UPDATE", resource="pods", obj=pod, old=unlabelled)
        assert policy.refusals(user=ARGO, operation="CREATE", resource="pods", obj=unlabelled) == []
        job = {"kind": "Job", "spec": {"template": {"metadata": pod["metadata"], "spec": pod["spec"]}}}
        assert policy.refusals(user=RUNNER, operation="CREATE", resource="jobs", obj=job), (key, value)
        holder = copy.deepcopy(pod)
        holder["spec"]["serviceAccountName"] = kfp.DB_CLIENT_ACCOUNTS[(key, value)]
        assert policy.refusals(user=RS_CONTROLLER, operation="CREATE", resource="pods", obj=holder) == []


def test_a_legacy_token_secret_for_a_holder_is_refused(policy: Policy) -> None:
    assert kfp.CREDENTIAL_HOLDERS
    for sa in [*sorted(set(kfp.DB_READERS.values()) | set(kfp.CREDENTIAL_HOLDERS)), kfp.RUNNER_SA]:
        token = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                 "metadata": {"name": f"{sa}.service-account-token",
                              "annotations": {"kubernetes.io/service-account.name": sa}}}
        refused = policy.refusals(user=RUNNER, operation="CREATE", resource="secrets", obj=token)
        assert bool(refused) == (sa != kfp.RUNNER_SA), sa
        assert policy.refusals(user=DEPLOYER, operation="CREATE", resource="secrets", obj=token) == []
    opaque = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "step-data"}}
    assert policy.refusals(user=RUNNER, operation="CREATE", resource="secrets", obj=opaque) == []


def test_deleting_a_holders_deployment_is_refused(policy: Policy) -> None:
    for name in each(kfp_admission.HOLDER_WORKLOADS or pytest.fail("no holder workloads")):
        for resource, obj in (("deployments", name), ("replicasets", f"{name}-5d4f8b7c9")):
            assert policy.refusals(user=RUNNER, operation="DELETE", resource=resource, name=obj), obj
            assert policy.refusals(user=DEPLOYER, operation="DELETE", resource=resource, name=obj) == []
    assert policy.refusals(user=RUNNER, operation="DELETE", resource="deployments", name="my-step-app") == []
