"""A `restricted` namespace and a pod written directly into it that runs privileged (issue 25): Pod Security
Admission at the namespace's level rejects the pod. Stack `ok` writes the same pod hardened."""

import pulumi
import pulumi_kubernetes as k8s

privileged = pulumi.Config("demo").require_bool("privileged")
provider = k8s.Provider("cluster", kubeconfig="{}")
opts = pulumi.ResourceOptions(provider=provider)
ns = k8s.core.v1.Namespace("jobs", metadata={"name": "jobs", "labels": {
    "pod-security.kubernetes.io/enforce": "restricted"}}, opts=opts)
hardened = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}}
context = {**hardened, "privileged": True, "allowPrivilegeEscalation": True} if privileged else hardened
k8s.core.v1.Pod("trainer", metadata={"name": "trainer", "namespace": ns.metadata["name"]},
                spec={"containers": [{"name": "train", "image": "ghcr.io/acme/train:1.4.2", "securityContext": context}]},
                opts=opts)
