"""Kubernetes objects as a program really passes them to pulumi_kubernetes (no mlops_infra), one per policy defect
of issue 32; tests/policies/test_k8s_programs.py plans it and runs the policies over the plan.

Names say what each object is for: `ok-*` objects must pass every policy they meet, the others fail the policy
their test names.
"""

import pulumi
import pulumi_kubernetes as k8s

cfg = pulumi.Config()
NS = {"namespace": "apps"}
IMAGE = "ghcr.io/acme/app:1.4.2@sha256:" + "a" * 64
HARDENED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}
POD_SC = {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}}


def pod(container: dict | None = None, **spec: object) -> dict:
    main = {"name": "app", "image": IMAGE, "securityContext": HARDENED, "resources": RESOURCES, **(container or {})}
    return {"serviceAccountName": "app", "automountServiceAccountToken": False, "securityContext": POD_SC,
            "containers": [main], **spec}


def template(spec: dict) -> dict:
    return {"selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": spec}}


# 1. A typed Secret: the SDK marks data/stringData secret whatever the program passed.
k8s.core.v1.Secret("literal-password", metadata=NS, string_data={"password": "hunter2"})
k8s.core.v1.Secret("ok-output-secret", metadata=NS, string_data={"password": pulumi.Output.secret("hunter2")})
k8s.core.v1.Secret("ok-whole-output-secret", metadata=NS, string_data=pulumi.Output.secret({"password": "hunter2"}))
k8s.core.v1.Secret("ok-secret-config", metadata=NS,
                   string_data={"username": "app", "password": cfg.require_secret("dbPassword")})

# 2. Secrets as environment variables; RBAC that controls webhooks or approves CSRs.
k8s.apps.v1.Deployment("secret-env", metadata=NS, spec=template(pod({
    "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
    "envFrom": [{"secretRef": {"name": "api-keys"}}]})))
k8s.rbac.v1.ClusterRole("webhook-admin", rules=[
    {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["validatingwebhookconfigurations"],
     "verbs": ["get", "patch"]}])
k8s.rbac.v1.ClusterRole("ok-webhook-own-config", rules=[
    {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["validatingwebhookconfigurations"],
     "resourceNames": ["my-webhook"], "verbs": ["get", "patch"]}])
k8s.rbac.v1.ClusterRole("csr-approver", rules=[
    {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval"], "verbs": ["update"]},
    {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"]}])
k8s.rbac.v1.Role("binder", metadata=NS, rules=[
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["bind"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}])

# 3. Workloads in API versions EKS 1.35 no longer serves.
k8s.extensions.v1beta1.DaemonSet("legacy-daemonset", metadata=NS, spec=template(pod(
    {"securityContext": {**HARDENED, "privileged": True}})))
k8s.batch.v1beta1.CronJob("legacy-cronjob", metadata=NS, spec={"schedule": "0 * * * *", "jobTemplate": {"spec": {
    "template": {"spec": pod({"securityContext": {**HARDENED, "allowPrivilegeEscalation": True}},
                             restartPolicy="OnFailure")}}}})

# 4. The default ServiceAccount declaring a need for the API token, and a pod using it.
k8s.core.v1.ServiceAccount("default-sa-automount", metadata={"name": "default", "namespace": "apps"},
                           automount_service_account_token=True)
k8s.apps.v1.Deployment("default-sa-pod", metadata=NS, spec=template(pod(
    serviceAccountName="default", automountServiceAccountToken=True)))

# 5. drop: [all] in lower case.
k8s.apps.v1.Deployment("drop-lowercase", metadata=NS, spec=template(pod(
    {"securityContext": {**HARDENED, "capabilities": {"drop": ["all"]}}})))

# 6. Objects Kubernetes itself creates in `default`, adopted by the program.
k8s.core.v1.ServiceAccount("ok-builtin-default-sa", metadata={"name": "default", "namespace": "default"},
                           automount_service_account_token=False)
k8s.core.v1.Service("ok-builtin-kubernetes-service", metadata={"name": "kubernetes", "namespace": "default"},
                    spec={"type": "ClusterIP", "ports": [{"name": "https", "port": 443, "targetPort": 443}]})

k8s.core.v1.ConfigMap("default-namespace-config", metadata={"name": "app", "namespace": "default"}, data={"a": "b"})

# 7. A hardened pod that pins its image by tag and runs as UID 1000.
k8s.apps.v1.Deployment("tag-low-uid", metadata=NS, spec=template(pod(
    {"image": "ghcr.io/acme/app:1.4.2"}, securityContext={**POD_SC, "runAsUser": 1000})))

# A dedicated, hardened workload and its ServiceAccount: every policy passes them.
k8s.core.v1.ServiceAccount("ok-app-sa", metadata={"name": "app", **NS}, automount_service_account_token=False)
k8s.apps.v1.Deployment("ok-hardened", metadata=NS, spec=template(pod()))
