"""Kubernetes RBAC and namespace isolation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, Stack, each, known, resource_policy, stack_policy

RBAC_VERSIONS = ("v1", "v1beta1", "v1alpha1")  # every version pulumi_kubernetes 4.34.2 can register
ROLES = tuple(f"kubernetes:rbac.authorization.k8s.io/{v}:{k}" for v in RBAC_VERSIONS for k in ("Role", "ClusterRole"))
BINDINGS = tuple(f"kubernetes:rbac.authorization.k8s.io/{v}:{k}" for v in RBAC_VERSIONS
                 for k in ("RoleBinding", "ClusterRoleBinding"))
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DANGEROUS_VERBS = ("escalate", "bind", "impersonate")
# Operations a role must not grant, as Checkov defines them (checkov/kubernetes/checks/resource/k8s/
# RbacControlWebhooks.py CKV_K8S_155, RbacApproveCertificateSigningRequests.py CKV_K8S_156): a rule grants one when
# it matches an API group, a verb and a resource of it, "*" included.
WEBHOOK_CONTROL = ("admissionregistration.k8s.io", ("create", "update", "patch"),
                   ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"))
CSR_APPROVAL = (("certificates.k8s.io", ("update", "patch"), ("certificatesigningrequests/approval",)),
                ("certificates.k8s.io", ("approve",), ("signers",)))


def _grants(rule: Mapping[str, Any], group: str, verbs: tuple[str, ...], resources: tuple[str, ...]) -> bool:
    def has(key: str, wanted: tuple[str, ...]) -> bool:
        return any(v == "*" or v in wanted for v in rule.get(key) or [])

    granted = rule.get("resources") or []
    resource = any(r == "*" or r in resources or any("/" in w and r == "*/" + w.split("/")[1] for w in resources)
                   for r in granted)
    return has("apiGroups", (group,)) and has("verbs", verbs) and resource


def _rules(res: Resource) -> list[Mapping[str, Any]]:
    rules = known(res.get("rules"), "rules") or []
    return [r for r in rules if isinstance(r, Mapping)]


@resource_policy(
    "mlops-k8s-rbac-no-wildcards",
    types=ROLES,
    description="RBAC roles grant no wildcard verbs, resources or API groups.",
    severity="high", pack="mlops-security",
    controls=("CKV_K8S_49", "CIS-EKS 4.1.3", "SOC2 CC6.3", "PCI-DSS 7.2.1"),
    remediation="List the exact apiGroups, resources and verbs the subject needs.",
)
def no_wildcards(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for i, rule in enumerate(_rules(res)):
        wild = [field for field in ("apiGroups", "resources", "verbs") if "*" in (rule.get(field) or [])]
        if wild:
            yield f"rule {i} uses * in {', '.join(wild)}"


@resource_policy(
    "mlops-k8s-rbac-no-escalation",
    types=ROLES,
    description="RBAC roles do not grant escalate, bind, impersonate, pods/exec, control of admission webhook "
                "configurations or approval of CertificateSigningRequests.",
    severity="high", pack="mlops-security",
    controls=("CKV_K8S_155", "CKV_K8S_156", "CKV_K8S_157", "CKV_K8S_158", "CIS-EKS 4.1.8", "SOC2 CC6.3"),
    remediation="Remove the escalation verbs; run interactive debugging through a break-glass role instead of "
                "pods/exec; let only the controller that owns a webhook configuration or signer patch or approve it, "
                "limited by resourceNames.",
)
def no_escalation(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for i, rule in enumerate(_rules(res)):
        verbs = [v for v in rule.get("verbs") or [] if v in DANGEROUS_VERBS]
        if verbs:
            yield f"rule {i} grants {', '.join(verbs)}"
        if _grants(rule, "", ("create", "get"), ("pods/exec",)):  # "*" in groups, verbs or resources included
            yield f"rule {i} grants pods/exec"
        if _grants(rule, *WEBHOOK_CONTROL) and not rule.get("resourceNames"):
            yield f"rule {i} grants control of admission webhook configurations"
    rules = _rules(res)
    if rules and all(any(_grants(r, *op) for r in rules) for op in CSR_APPROVAL):
        yield "role can approve CertificateSigningRequests (certificatesigningrequests/approval and signers approve)"


@resource_policy(
    "mlops-k8s-rbac-no-cluster-admin-binding",
    types=BINDINGS,
    description="No binding grants the cluster-admin role.",
    severity="critical", pack="mlops-security",
    controls=("CIS-EKS 4.1.1", "SOC2 CC6.3", "PCI-DSS 7.2.1"),
    remediation="Bind a least-privilege role; give administrators cluster access through EKS access entries.",
)
def no_cluster_admin(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    ref = known(res.get("roleRef"), "roleRef") or {}
    if ref.get("kind") == "ClusterRole" and ref.get("name") == "cluster-admin":
        yield "binds cluster-admin"


@stack_policy(
    "mlops-k8s-namespace-network-policy",
    description="Every namespace the stack creates has a NetworkPolicy.",
    severity="medium", pack="mlops-security", strictness="advisory",
    controls=("CKV2_K8S_6", "CIS-EKS 4.3.2", "SOC2 CC6.6", "PCI-DSS 1.2.1"),
    remediation="Add a default-deny NetworkPolicy to the namespace and allow the flows it needs.",
)
def namespace_network_policy(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(ns: Resource) -> Iterable[str]:
        name = known(ns.get("metadata", "name"), "namespace name") or ns.name
        policies = stack.referencing(ns, [NETWORK_POLICY], "metadata")
        named = [p for p in stack.of_type(NETWORK_POLICY) if p.get("metadata", "namespace") == name]
        if not policies and not named:
            yield f"namespace {name} has no NetworkPolicy"

    return each(stack.of_type(NAMESPACE), check)
