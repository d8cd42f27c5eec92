"""Where pulumi-kubernetes puts an object: its kind's scope and the namespace a provider gives an unnamespaced one.

Scope comes from what is known, never from a kind's name: a kind of a built-in API group is cluster-scoped when it is
in `CLUSTER_SCOPED` and namespaced otherwise; a custom kind takes the scope of the CustomResourceDefinition
the program registers for it; any other kind's scope is unknown (`None`).

A namespaced object without `metadata.namespace` lands in its provider's default namespace. pulumi-kubernetes
(provider.go, `Configure` then `Check`) takes the provider's `namespace` input; without one, the namespace of the
kubeconfig context the provider uses (its `context` input, else the kubeconfig's `current-context`); without one,
`default`. That is known at plan time only when the provider's `namespace` is a plain string, or its kubeconfig is
plain YAML/JSON text (a path, the ambient kubeconfig of a provider given none, the default provider, a secret or an
unknown value: not known).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .inventory import SECRET, UNKNOWN, ResourceRecord

PROVIDER = "pulumi:providers:kubernetes"

# Kinds the API server serves cluster-scoped (Kubernetes 1.35 built-ins); a custom kind's scope comes from its CRD.
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PriorityClass", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "IngressClass", "RuntimeClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "APIService",
    "CertificateSigningRequest", "FlowSchema", "PriorityLevelConfiguration", "ComponentStatus", "IPAddress",
    "ServiceCIDR", "DeviceClass", "VolumeAttributesClass", "ClusterTrustBundle", "ResourceSlice", "DeviceTaintRule",
    "StorageVersion", "StorageVersionMigration", "PodSecurityPolicy",
})

PROVIDER_NAMESPACE = "(the provider's namespace)"
"""The namespace of an unnamespaced object (or Helm release) whose provider's default namespace is not known at plan
time (`kube_identity.provider_namespace`): the strict plan compares it only with others so placed on that provider."""

BUILTIN_GROUPS = frozenset({
    "", "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io", "apps",
    "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io", "policy", "rbac.authorization.k8s.io",
    "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io", "storagemigration.k8s.io",
})
"""The API groups the API server serves itself (group "" is core). Groups such as gateway.networking.k8s.io or
snapshot.storage.k8s.io are CRDs' and are not here."""


def cluster_scoped(group: str, kind: str, crd_scopes: Mapping[tuple[str, str], str]) -> bool | None:
    """True for a cluster-scoped kind, False for a namespaced one, None when the scope is not known."""
    scope = crd_scopes.get((group, kind))
    if scope in ("Cluster", "Namespaced"):
        return scope == "Cluster"
    if group in BUILTIN_GROUPS:
        return kind in CLUSTER_SCOPED
    return None


def provider_namespaces(records: Iterable[ResourceRecord]) -> dict[str, str]:
    """Kubernetes provider URN -> the namespace it gives an unnamespaced namespaced object, for the providers where
    that is known at plan time."""
    found = {}
    for record in records:
        if record.type == PROVIDER:
            namespace = provider_namespace(record.inputs)
            if namespace is not None:
                found[record.urn] = namespace
    return found


def _known(value: Any) -> bool:
    return isinstance(value, str) and value not in (UNKNOWN, SECRET)


def provider_namespace(inputs: Mapping[str, Any]) -> str | None:
    """The default namespace of a Kubernetes provider with these inputs, or None when it is not known at plan time."""
    namespace = inputs.get("namespace")
    if namespace not in (None, ""):
        return namespace if _known(namespace) else None
    kubeconfig = inputs.get("kubeconfig")
    if not _known(kubeconfig) or not kubeconfig:  # no kubeconfig: the ambient one, read where `pulumi up` runs
        return None
    try:
        config = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict):  # a path (a YAML scalar): the file is read at deploy time
        return None
    context = inputs.get("context")
    if context in (None, ""):
        context = config.get("current-context")
    elif not _known(context):
        return None
    for entry in config.get("contexts") or []:
        if isinstance(entry, dict) and entry.get("name") == context:
            body = entry.get("context")
            written = body.get("namespace") if isinstance(body, dict) else None
            return written if isinstance(written, str) and written else "default"
    return "default"
