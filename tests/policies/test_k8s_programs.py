"""Issue 32's Kubernetes policy defects, judged on a real plan of a real program (tests/programs/k8s_policies):
the inputs are what pulumi_kubernetes really registers, not a hand-made inventory."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_policies.runner import evaluate

from tests.conftest import PROGRAMS, planned

PROGRAM = PROGRAMS / "k8s_policies"


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    return planned("prod", PROGRAM).to_json()


def findings(plan: dict[str, Any], policy: str, env: str = "prod", **config: Any) -> list[str]:
    report = evaluate(plan, environment=env, only=[policy], policy_config={policy: config} if config else None)
    return sorted(f"{f.name}: {f.message}" for f in report.findings)


def record(plan: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in plan["resources"] if r["name"] == name]
    return found


# --- 1. a typed Secret with a literal --------------------------------------------------------------------------

def test_the_plan_records_which_secret_inputs_were_literals(plan: dict[str, Any]) -> None:
    assert record(plan, "literal-password")["plainSecretInputs"] == ["/stringData/password"]
    assert record(plan, "ok-secret-config")["plainSecretInputs"] == ["/stringData/username"]
    for name in ("ok-output-secret", "ok-whole-output-secret"):
        assert record(plan, name)["plainSecretInputs"] == []
    for name in ("literal-password", "ok-output-secret", "ok-secret-config"):
        assert record(plan, name)["inputs"]["stringData"] == "[secret]"  # the SDK marked every one secret
    assert "hunter2" not in json.dumps(plan)  # paths only, never values


def test_a_literal_in_a_typed_secret_fails_and_secret_inputs_pass(plan: dict[str, Any]) -> None:
    assert findings(plan, "mlops-no-plaintext-secrets-k8s") == [
        "literal-password: Secret stringData.password is a literal in the program: the SDK stores it encrypted, but "
        "the value is in the source and its history; pass it from Pulumi secret config or an ExternalSecret"]
    assert findings(plan, "mlops-no-plaintext-secrets-k8s", env="dev")  # strictness "always": every environment


# --- 2. citations with rules -----------------------------------------------------------------------------------

def test_secrets_read_into_environment_variables_are_named(plan: dict[str, Any]) -> None:
    assert findings(plan, "mlops-k8s-secrets-as-files") == [
        "secret-env: container 'app' loads Secret api-keys into env (envFrom.secretRef)",
        "secret-env: container 'app' reads Secret key into env DB_PASSWORD (valueFrom.secretKeyRef)"]


def test_webhook_control_and_csr_approval_are_escalations(plan: dict[str, Any]) -> None:
    assert findings(plan, "mlops-k8s-rbac-no-escalation") == [
        "binder: rule 0 grants bind",
        "binder: rule 1 grants escalate",
        "csr-approver: role can approve CertificateSigningRequests (certificatesigningrequests/approval and signers "
        "approve)",
        "webhook-admin: rule 0 grants control of admission webhook configurations"]


# --- 3. removed API versions -----------------------------------------------------------------------------------

def test_workloads_are_judged_by_kind_in_every_api_version(plan: dict[str, Any]) -> None:
    assert record(plan, "legacy-daemonset")["type"] == "kubernetes:extensions/v1beta1:DaemonSet"
    assert findings(plan, "mlops-k8s-no-privileged") == ["legacy-daemonset: container 'app' is privileged"]
    assert findings(plan, "mlops-k8s-no-privilege-escalation") == [
        "legacy-cronjob: container 'app' does not set allowPrivilegeEscalation: false"]


def test_api_versions_the_cluster_no_longer_serves_fail(plan: dict[str, Any]) -> None:
    removed = [
        "legacy-cronjob: batch/v1beta1 CronJob is not served since Kubernetes 1.25 (cluster 1.35): use batch/v1",
        "legacy-daemonset: extensions/v1beta1 DaemonSet is not served since Kubernetes 1.16 (cluster 1.35): use "
        "apps/v1"]
    assert findings(plan, "mlops-k8s-removed-api-versions") == removed
    assert findings(plan, "mlops-k8s-removed-api-versions", env="dev") == removed  # the apply fails in dev too
    # On a 1.24 cluster batch/v1beta1 is still served; extensions/v1beta1 DaemonSets are not.
    assert findings(plan, "mlops-k8s-removed-api-versions", clusterVersion="1.24") == [
        "legacy-daemonset: extensions/v1beta1 DaemonSet is not served since Kubernetes 1.16 (cluster 1.24): use "
        "apps/v1"]


def test_the_cluster_version_comes_from_the_stacks_eks_cluster(plan: dict[str, Any]) -> None:
    with_cluster = json.loads(json.dumps(plan))
    cluster = dict(record(plan, "legacy-cronjob"), urn="urn:pulumi:prod::k8s_policies::aws:eks/cluster:Cluster::c",
                   type="aws:eks/cluster:Cluster", name="c", inputs={"version": "1.24"}, plainSecretInputs=[])
    with_cluster["resources"].append(cluster)
    assert [m.split(":")[0] for m in findings(with_cluster, "mlops-k8s-removed-api-versions")] == ["legacy-daemonset"]


# --- 4. the default ServiceAccount -----------------------------------------------------------------------------

def test_a_declared_token_need_requires_a_dedicated_service_account(plan: dict[str, Any]) -> None:
    assert findings(plan, "mlops-k8s-sa-token-automount") == [
        "default-sa-automount: the namespace's default service account mounts its token into every pod that names "
        "no account (automountServiceAccountToken: true); set it to false and give the pods that call the API a "
        "dedicated ServiceAccount",
        "default-sa-pod: pod mounts the token of the default service account (automountServiceAccountToken: true); "
        "a pod that needs the Kubernetes API needs a dedicated ServiceAccount"]


# --- 5. drop: [all] --------------------------------------------------------------------------------------------

def test_lower_case_drop_all_says_what_admission_will_do(plan: dict[str, Any]) -> None:
    assert findings(plan, "mlops-k8s-drop-all-capabilities") == [
        "drop-lowercase: container 'app' drops 'all': the runtime accepts it, but restricted Pod Security admission "
        "rejects the pod (it requires \"ALL\", upper case); write drop: [ALL]"]


# --- 6. objects Kubernetes creates -----------------------------------------------------------------------------

def test_kubernetes_built_ins_may_live_in_default(plan: dict[str, Any]) -> None:
    assert findings(plan, "mlops-k8s-no-default-namespace") == [
        "default-namespace-config: object is in the default namespace"]


# --- 7. digest and high UID ------------------------------------------------------------------------------------

def test_a_tag_and_a_low_uid_are_judged_in_prod(plan: dict[str, Any]) -> None:
    assert findings(plan, "mlops-k8s-image-digest") == [
        "tag-low-uid: container 'app' image ghcr.io/acme/app:1.4.2 is not pinned by digest"]
    assert findings(plan, "mlops-k8s-high-uid") == ["tag-low-uid: container 'app' runs as UID 1000, under 10000"]
    assert findings(plan, "mlops-k8s-high-uid", env="dev") == []  # prod only (config: environments)


def test_the_ok_objects_pass_every_policy(plan: dict[str, Any]) -> None:
    ok = {r["name"] for r in plan["resources"] if r["name"].startswith("ok-")}
    assert len(ok) == 8
    report = evaluate(plan, environment="prod")
    assert [f"{f.policy}: {f.name}" for f in report.findings if f.name in ok] == []
