"""Kubernetes policies: direct workloads (all kinds share one pod-spec reader) and Helm release values."""

from __future__ import annotations

import copy
from typing import Any

from mlops_policies import k8s_exposure as exp
from mlops_policies import k8s_rbac as rbac
from mlops_policies import k8s_workloads as wl

from .cases import Case, check, params
from .helpers import R

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRONJOB = "kubernetes:batch/v1:CronJob"
RELEASE = "kubernetes:helm.sh/v3:Release"
SC = {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
      "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
RES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
POD = {"serviceAccountName": "trainer", "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                                            "seccompProfile": {"type": "RuntimeDefault"}},
       "containers": [{"name": "app", "image": "ghcr.io/acme/train:1.4.2", "securityContext": SC, "resources": RES}]}


def deployment(container: dict[str, Any] | None = None, **pod: Any) -> list[R]:
    spec = copy.deepcopy(POD)
    spec["containers"][0].update(container or {})
    spec.update(pod)
    return [R(DEPLOYMENT, "train", {"metadata": {"namespace": "research"},
                                     "spec": {"template": {"spec": spec}}})]


def cronjob(container: dict[str, Any]) -> list[R]:
    spec = copy.deepcopy(POD)
    spec["containers"][0].update(container)
    return [R(CRONJOB, "nightly", {"metadata": {"namespace": "research"},
                                    "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}})]


def release(values: dict[str, Any], **inputs: Any) -> list[R]:
    return [R(RELEASE, "chart", {"chart": "x", "version": "1.0.0", "namespace": "monitoring", "values": values, **inputs})]


HELM_SC = {"controller": {"securityContext": {"privileged": True, "allowPrivilegeEscalation": True, "runAsUser": 0,
                                              "readOnlyRootFilesystem": False, "capabilities": {"add": ["SYS_ADMIN"]},
                                              "seccompProfile": {"type": "Unconfined"}},
                          "hostNetwork": True, "image": {"repository": "x", "tag": "latest"},
                          "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": 1}}}}
SC_PATH = "values.controller.securityContext"

KUBECONFIG_IN_TEAM = """apiVersion: v1
kind: Config
current-context: eks
contexts:
- name: eks
  context: {cluster: eks, user: eks, namespace: team}
"""

CASES = [
    Case("hardened", "mlops-k8s-no-privileged", deployment(), []),
    Case("privileged", "mlops-k8s-no-privileged", deployment({"securityContext": {**SC, "privileged": True}}),
         ["train: container 'app' is privileged"]),
    Case("helm", "mlops-k8s-no-privileged", release(HELM_SC), [f"chart: {SC_PATH}.privileged is true"]),
    Case("helm-unset-not-applicable", "mlops-k8s-no-privileged", release({"replicas": 2}), []),
    Case("hardened", "mlops-k8s-no-privilege-escalation", deployment(), []),
    Case("unset", "mlops-k8s-no-privilege-escalation", deployment({"securityContext": {}}),
         ["train: container 'app' does not set allowPrivilegeEscalation: false"]),
    Case("cronjob", "mlops-k8s-no-privilege-escalation", cronjob({"securityContext": {"allowPrivilegeEscalation": True}}),
         ["nightly: container 'app' does not set allowPrivilegeEscalation: false"]),
    Case("helm", "mlops-k8s-no-privilege-escalation", release(HELM_SC),
         [f"chart: {SC_PATH}.allowPrivilegeEscalation is true"]),
    Case("hardened", "mlops-k8s-run-as-non-root", deployment(), []),
    Case("root", "mlops-k8s-run-as-non-root", deployment({"securityContext": {**SC, "runAsUser": 0}}),
         ["train: container 'app' runs as UID 0"]),
    Case("unset", "mlops-k8s-run-as-non-root", deployment({"securityContext": {}}, securityContext={}),
         ["train: container 'app' does not set runAsNonRoot: true"]),
    Case("helm", "mlops-k8s-run-as-non-root", release(HELM_SC), [f"chart: {SC_PATH}.runAsUser is 0"]),
    Case("none", "mlops-k8s-no-host-namespaces", deployment(), []),
    Case("host-network", "mlops-k8s-no-host-namespaces", deployment(hostNetwork=True, hostPID=True, hostIPC=True),
         ["train: pod uses hostIPC", "train: pod uses hostNetwork", "train: pod uses hostPID"],
         cites=("CKV_K8S_19", "CKV_K8S_17", "CKV_K8S_18")),
    Case("helm", "mlops-k8s-no-host-namespaces", release(HELM_SC), ["chart: values.controller.hostNetwork is true"]),
    Case("empty-dir", "mlops-k8s-no-host-path", deployment(volumes=[{"name": "tmp", "emptyDir": {}}]), []),
    Case("host-path", "mlops-k8s-no-host-path", deployment(volumes=[{"name": "docker", "hostPath": {"path": "/var/run"}}]),
         ["train: volume 'docker' mounts hostPath /var/run"]),
    Case("drop-all", "mlops-k8s-drop-all-capabilities", deployment(), []),
    Case("keeps-all", "mlops-k8s-drop-all-capabilities", deployment({"securityContext": {**SC, "capabilities": {}}}),
         ["train: container 'app' does not drop ALL capabilities"], cites=("CKV_K8S_28", "CKV_K8S_37")),
    Case("helm", "mlops-k8s-drop-all-capabilities", release(HELM_SC), [f"chart: {SC_PATH}.capabilities does not drop ALL"]),
    Case("none-added", "mlops-k8s-no-added-capabilities", deployment(), []),
    Case("allowed", "mlops-k8s-no-added-capabilities",
         deployment({"securityContext": {**SC, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}), []),
    Case("sys-admin", "mlops-k8s-no-added-capabilities",
         deployment({"securityContext": {**SC, "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}}),
         ["train: container 'app' adds capabilities SYS_ADMIN"], cites=("CKV_K8S_25", "CKV_K8S_39")),
    Case("helm", "mlops-k8s-no-added-capabilities", release(HELM_SC), [f"chart: {SC_PATH}.capabilities adds SYS_ADMIN"]),
    Case("runtime-default", "mlops-k8s-seccomp", deployment(), []),
    Case("none", "mlops-k8s-seccomp", deployment({"securityContext": {}}, securityContext={}),
         ["train: container 'app' has no seccomp profile (RuntimeDefault)"]),
    Case("unconfined", "mlops-k8s-seccomp", deployment({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
         ["train: container 'app' runs seccomp Unconfined"]),
    Case("helm", "mlops-k8s-seccomp", release(HELM_SC), [f"chart: {SC_PATH}.seccompProfile.type is Unconfined"]),
    Case("read-only", "mlops-k8s-read-only-root-fs", deployment(), []),
    Case("writable", "mlops-k8s-read-only-root-fs", deployment({"securityContext": {**SC, "readOnlyRootFilesystem": False}}),
         ["train: container 'app' does not set readOnlyRootFilesystem: true"]),
    Case("helm", "mlops-k8s-read-only-root-fs", release(HELM_SC), [f"chart: {SC_PATH}.readOnlyRootFilesystem is false"]),
    Case("set", "mlops-k8s-requests-limits", deployment(), []),
    Case("missing", "mlops-k8s-requests-limits", deployment({"resources": {"requests": {"cpu": "1"}}}),
         ["train: container 'app' is missing requests.memory, limits.cpu, limits.memory"],
         cites=("CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13")),
    Case("none", "mlops-k8s-requests-limits", deployment({"resources": {}}),
         ["train: container 'app' is missing requests.cpu, requests.memory, limits.cpu, limits.memory"],
         cites=("CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13")),
    Case("lower-case-all", "mlops-k8s-drop-all-capabilities",
         deployment({"securityContext": {**SC, "capabilities": {"drop": ["all"]}}}),
         ["train: container 'app' drops 'all': the runtime accepts it, but restricted Pod Security admission rejects "
          "the pod (it requires \"ALL\", upper case); write drop: [ALL]"], cites=("CKV_K8S_28", "CKV_K8S_37")),
    Case("helm", "mlops-k8s-requests-limits", release(HELM_SC),
         ["chart: values.controller.resources is missing requests.memory, limits.cpu, limits.memory"]),
    Case("helm-unknown-values", "mlops-k8s-requests-limits", release("[unknown]"), []),  # type: ignore[arg-type]
    Case("helm-volume-claim-is-not-a-container", "mlops-k8s-requests-limits", release({"prometheus": {"storageSpec": {
        "volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "50Gi"}}}}}}}), []),
    Case("gpu-matched", "mlops-k8s-gpu-limits", deployment({"resources": {
        "requests": {**RES["requests"], "nvidia.com/gpu": "1"}, "limits": {**RES["limits"], "nvidia.com/gpu": "1"}}}), []),
    Case("gpu-no-limit", "mlops-k8s-gpu-limits", deployment({"resources": {
        "requests": {**RES["requests"], "nvidia.com/gpu": "2"}, "limits": RES["limits"]}}),
         ["train: container 'app' requests nvidia.com/gpu without a limit"]),
    Case("gpu-mismatch", "mlops-k8s-gpu-limits", deployment({"resources": {
        "requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}}}),
         ["train: container 'app' requests 1 nvidia.com/gpu but limits 2"]),
    Case("helm", "mlops-k8s-gpu-limits", release(HELM_SC),
         ["chart: values.controller.resources requests nvidia.com/gpu without a limit"]),
    Case("tag", "mlops-k8s-image-pinned", deployment(), []),
    Case("digest", "mlops-k8s-image-pinned", deployment({"image": "ghcr.io/acme/train@sha256:abc"}), []),
    Case("latest", "mlops-k8s-image-pinned", deployment({"image": "ghcr.io/acme/train:latest"}),
         ["train: container 'app' image ghcr.io/acme/train:latest uses the latest tag"]),
    Case("untagged", "mlops-k8s-image-pinned", deployment({"image": "localhost:5000/train"}),
         ["train: container 'app' image localhost:5000/train has no tag"]),
    Case("helm", "mlops-k8s-image-pinned", release(HELM_SC), ["chart: values.controller.image.tag is latest"]),
    Case("digest", "mlops-k8s-image-digest", deployment({"image": "ghcr.io/acme/train:1.4.2@sha256:abc"}), []),
    Case("tag-in-dev", "mlops-k8s-image-digest", deployment(), [], env="dev"),
    Case("tag", "mlops-k8s-image-digest", deployment(),
         ["train: container 'app' image ghcr.io/acme/train:1.4.2 is not pinned by digest"]),
    Case("helm-tag", "mlops-k8s-image-digest", release({"image": {"repository": "x", "tag": "1.0"}}),
         ["chart: values.image x:1.0 is not pinned by digest"]),
    Case("high", "mlops-k8s-high-uid", deployment(), []),
    Case("low-in-dev", "mlops-k8s-high-uid", deployment(securityContext={**POD["securityContext"], "runAsUser": 1000}),
         [], env="dev"),
    Case("low", "mlops-k8s-high-uid", deployment(securityContext={**POD["securityContext"], "runAsUser": 1000}),
         ["train: container 'app' runs as UID 1000, under 10000"]),
    Case("unset", "mlops-k8s-high-uid", deployment(securityContext={"runAsNonRoot": True}),
         ["train: container 'app' does not set runAsUser (the image's user decides)"]),
    Case("files", "mlops-k8s-secrets-as-files", deployment(volumes=[{"name": "s", "secret": {"secretName": "db"}}]), []),
    Case("env", "mlops-k8s-secrets-as-files", deployment({"env": [
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]}),
         ["train: container 'app' reads Secret key into env PW (valueFrom.secretKeyRef)"]),
    Case("helm", "mlops-k8s-secrets-as-files", release({"envFrom": [{"secretRef": {"name": "keys"}}]}),
         ["chart: values.envFrom[0].secretRef loads Secret keys into env"]),
    Case("served", "mlops-k8s-removed-api-versions", deployment(), []),
    Case("daemonset-v1beta1", "mlops-k8s-removed-api-versions",
         [R("kubernetes:extensions/v1beta1:DaemonSet", "ds", {"metadata": {"namespace": "x"}})],
         ["ds: extensions/v1beta1 DaemonSet is not served since Kubernetes 1.16 (cluster 1.35): use apps/v1"]),
    Case("pdb-v1beta1-on-1.24", "mlops-k8s-removed-api-versions",
         [R("kubernetes:policy/v1beta1:PodDisruptionBudget", "pdb", {})], [], config={"clusterVersion": "1.24"}),
    Case("dedicated-sa", "mlops-k8s-sa-token-automount", [*deployment(), R(wl.SERVICE_ACCOUNT, "sa", {
        "metadata": {"namespace": "research"}, "automountServiceAccountToken": False})], []),
    Case("sa-default", "mlops-k8s-sa-token-automount", [R(wl.SERVICE_ACCOUNT, "sa", {"metadata": {"namespace": "x"}})],
         ["sa: service account does not set automountServiceAccountToken (defaults to true)"]),
    Case("pod-default-sa", "mlops-k8s-sa-token-automount", deployment(serviceAccountName=None),
         ["train: pod mounts the token of the default service account"]),
    Case("namespaced", "mlops-k8s-no-default-namespace", [*deployment(), *release({})], []),
    Case("provider-namespace", "mlops-k8s-no-default-namespace",
         [R("pulumi:providers:kubernetes", "k8s", {"namespace": "team"}),
          R(exp.SERVICE, "svc", {"spec": {"type": "ClusterIP"}}, provider="k8s")], []),
    Case("kubeconfig-context-namespace", "mlops-k8s-no-default-namespace",
         [R("pulumi:providers:kubernetes", "k8s", {"kubeconfig": KUBECONFIG_IN_TEAM}),
          R(exp.SERVICE, "svc", {"spec": {"type": "ClusterIP"}}, provider="k8s")], []),
    Case("kubeconfig-without-namespace", "mlops-k8s-no-default-namespace",
         [R("pulumi:providers:kubernetes", "k8s", {"kubeconfig": KUBECONFIG_IN_TEAM.replace("namespace: team", "")}),
          R(exp.SERVICE, "svc", {"spec": {"type": "ClusterIP"}}, provider="k8s")],
         ["svc: object is in the default namespace"]),
    Case("kubeconfig-unknown", "mlops-k8s-no-default-namespace",
         [R("pulumi:providers:kubernetes", "k8s", {"kubeconfig": "[unknown]"}),
          R(exp.SERVICE, "svc", {"spec": {"type": "ClusterIP"}}, provider="k8s")], []),
    Case("default", "mlops-k8s-no-default-namespace",
         [R(exp.SERVICE, "svc", {"metadata": {"namespace": "default"}}), R(RELEASE, "chart", {"chart": "x"})],
         ["svc: object is in the default namespace", "chart: object is in the default namespace"]),
    Case("internal", "mlops-k8s-lb-service-tls", [R(exp.SERVICE, "svc", {"metadata": {"annotations": {
        exp.LB_SCHEME: "internal"}}, "spec": {"type": "LoadBalancer"}})], []),
    Case("tls", "mlops-k8s-lb-service-tls", [R(exp.SERVICE, "svc", {"metadata": {"annotations": {
        exp.LB_TLS_CERT: "arn:aws:acm:us-east-1:1:certificate/x"}}, "spec": {"type": "LoadBalancer"}})], []),
    Case("plaintext", "mlops-k8s-lb-service-tls", [R(exp.SERVICE, "svc", {"spec": {"type": "LoadBalancer"}})],
         ["svc: public LoadBalancer Service without TLS (no ssl-cert annotation and not internal)"]),
    Case("tls", "mlops-k8s-ingress-tls", [R(exp.INGRESS, "ing", {"spec": {
        "tls": [{"hosts": ["mlflow.acme.io"]}], "rules": [{"host": "mlflow.acme.io"}]}})], []),
    Case("plaintext-wildcard", "mlops-k8s-ingress-tls", [R(exp.INGRESS, "ing", {"spec": {"rules": [{"host": "*.acme.io"}]}})],
         ["ing: Ingress has no TLS (spec.tls or the ALB certificate-arn annotation)",
          "ing: Ingress rule has a wildcard host (*.acme.io)"]),
    Case("none", "mlops-k8s-service-no-external-ips", [R(exp.SERVICE, "svc", {"spec": {"type": "ClusterIP"}})], []),
    Case("set", "mlops-k8s-service-no-external-ips", [R(exp.SERVICE, "svc", {"spec": {"externalIPs": ["1.2.3.4"]}})],
         ["svc: Service sets externalIPs 1.2.3.4"]),
    Case("exact", "mlops-k8s-rbac-no-wildcards", [R(rbac.ROLES[0], "role", {"rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})], []),
    Case("wildcards", "mlops-k8s-rbac-no-wildcards", [R(rbac.ROLES[1], "cr", {"rules": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}]})], ["cr: rule 0 uses * in apiGroups, resources"]),
    Case("read-only", "mlops-k8s-rbac-no-escalation", [R(rbac.ROLES[0], "role", {"rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})], []),
    Case("escalation", "mlops-k8s-rbac-no-escalation", [R(rbac.ROLES[1], "cr", {"rules": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind", "escalate"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]})],
         ["cr: rule 0 grants bind, escalate", "cr: rule 1 grants pods/exec"]),
    Case("exec-by-wildcard-verb", "mlops-k8s-rbac-no-escalation", [R(rbac.ROLES[0], "role", {"rules": [
        {"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["*"]},
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["*"]}]})],
         ["role: rule 0 grants pods/exec", "role: rule 1 grants pods/exec"]),
    Case("view", "mlops-k8s-rbac-no-cluster-admin-binding", [R(rbac.BINDINGS[1], "b", {
        "roleRef": {"kind": "ClusterRole", "name": "view"}})], []),
    Case("cluster-admin", "mlops-k8s-rbac-no-cluster-admin-binding", [R(rbac.BINDINGS[1], "b", {
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}})], ["b: binds cluster-admin"]),
    Case("has-policy", "mlops-k8s-namespace-network-policy", [
        R(rbac.NAMESPACE, "ns", {"metadata": {"name": "research"}}),
        R(rbac.NETWORK_POLICY, "deny", {"metadata": {"namespace": "research-ns-id"}}, {"metadata": ["ns"]})], []),
    Case("none", "mlops-k8s-namespace-network-policy", [R(rbac.NAMESPACE, "ns", {"metadata": {"name": "research"}})],
         ["ns: namespace research has no NetworkPolicy"], env="dev"),
]


@params(CASES)
def test_k8s(case: Case) -> None:
    check(case)
