"""Kubernetes API versions the stack's cluster no longer serves: the apply of such an object fails.

The table is the Kubernetes "Deprecated API Migration Guide" (kubernetes/website,
content/en/docs/reference/using-api/deprecation-guide.md, "Removed APIs by release", v1.16 to v1.32, its latest
entry). pulumi-kubernetes refuses these too at apply ("apiVersion ... was removed in Kubernetes ...",
provider/pkg/kinds/deprecated.go RemovedAPIError), so the finding says before `pulumi up` what the apply will say.
The cluster version is the `version` of the stack's EKS clusters; a stack
without one (a workload stack on a shared cluster) uses the policy config's `clusterVersion` (default: the library's
default EKS version).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, Stack, each, stack_policy
from .k8s_workloads import api_version_of, kind_of

EKS_CLUSTER = "aws:eks/cluster:Cluster"
DEFAULT_CLUSTER_VERSION = "1.35"
GUIDE = "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"

# (apiVersion, kind) -> (first release that no longer serves it, the version to use instead).
_REMOVED: dict[tuple[str, str], tuple[str, str]] = {}


def _removed(release: str, api_version: str, replacement: str, *kinds: str) -> None:
    for kind in kinds:
        _REMOVED[(api_version, kind)] = (release, replacement)


_removed("1.16", "extensions/v1beta1", "networking.k8s.io/v1", "NetworkPolicy")
_removed("1.16", "extensions/v1beta1", "policy/v1beta1", "PodSecurityPolicy")
_removed("1.16", "extensions/v1beta1", "apps/v1", "DaemonSet", "Deployment", "ReplicaSet")
_removed("1.16", "apps/v1beta1", "apps/v1", "Deployment", "StatefulSet", "ReplicaSet")
_removed("1.16", "apps/v1beta2", "apps/v1", "DaemonSet", "Deployment", "StatefulSet", "ReplicaSet")
_removed("1.22", "admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1",
         "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_removed("1.22", "apiextensions.k8s.io/v1beta1", "apiextensions.k8s.io/v1", "CustomResourceDefinition")
_removed("1.22", "apiregistration.k8s.io/v1beta1", "apiregistration.k8s.io/v1", "APIService")
_removed("1.22", "authentication.k8s.io/v1beta1", "authentication.k8s.io/v1", "TokenReview")
_removed("1.22", "authorization.k8s.io/v1beta1", "authorization.k8s.io/v1", "LocalSubjectAccessReview",
         "SelfSubjectAccessReview", "SubjectAccessReview", "SelfSubjectRulesReview")
_removed("1.22", "certificates.k8s.io/v1beta1", "certificates.k8s.io/v1", "CertificateSigningRequest")
_removed("1.22", "coordination.k8s.io/v1beta1", "coordination.k8s.io/v1", "Lease")
_removed("1.22", "extensions/v1beta1", "networking.k8s.io/v1", "Ingress")
_removed("1.22", "networking.k8s.io/v1beta1", "networking.k8s.io/v1", "Ingress", "IngressClass")
_removed("1.22", "rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1", "ClusterRole",
         "ClusterRoleBinding", "Role", "RoleBinding")
_removed("1.22", "scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1", "PriorityClass")
_removed("1.22", "storage.k8s.io/v1beta1", "storage.k8s.io/v1", "CSIDriver", "CSINode", "StorageClass",
         "VolumeAttachment")
_removed("1.25", "batch/v1beta1", "batch/v1", "CronJob")
_removed("1.25", "discovery.k8s.io/v1beta1", "discovery.k8s.io/v1", "EndpointSlice")
_removed("1.25", "events.k8s.io/v1beta1", "events.k8s.io/v1", "Event")
_removed("1.25", "autoscaling/v2beta1", "autoscaling/v2", "HorizontalPodAutoscaler")
_removed("1.25", "policy/v1beta1", "policy/v1", "PodDisruptionBudget")
_removed("1.25", "policy/v1beta1", "Pod Security admission", "PodSecurityPolicy")
_removed("1.25", "node.k8s.io/v1beta1", "node.k8s.io/v1", "RuntimeClass")
_removed("1.26", "flowcontrol.apiserver.k8s.io/v1beta1", "flowcontrol.apiserver.k8s.io/v1", "FlowSchema",
         "PriorityLevelConfiguration")
_removed("1.26", "autoscaling/v2beta2", "autoscaling/v2", "HorizontalPodAutoscaler")
_removed("1.27", "storage.k8s.io/v1beta1", "storage.k8s.io/v1", "CSIStorageCapacity")
_removed("1.29", "flowcontrol.apiserver.k8s.io/v1beta2", "flowcontrol.apiserver.k8s.io/v1", "FlowSchema",
         "PriorityLevelConfiguration")
_removed("1.32", "flowcontrol.apiserver.k8s.io/v1beta3", "flowcontrol.apiserver.k8s.io/v1", "FlowSchema",
         "PriorityLevelConfiguration")
REMOVED: Mapping[tuple[str, str], tuple[str, str]] = _REMOVED


def minor(version: Any) -> tuple[int, int] | None:
    """(1, 35) from "1.35" (or "1.35.2", "v1.35"); None when it is not a version."""
    parts = str(version).lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def removal(type_token: str) -> tuple[str, str] | None:
    """(release that stopped serving it, replacement) for a `kubernetes:<group>/<version>:<Kind>` token."""
    if not type_token.startswith("kubernetes:"):
        return None
    return REMOVED.get((api_version_of(type_token), kind_of(type_token)))


@stack_policy(
    "mlops-k8s-removed-api-versions",
    description="No Kubernetes object uses an API version the stack's cluster version no longer serves (the apply "
                "would fail).",
    severity="high", pack="mlops-compliance", strictness="always",
    controls=("K8S-DEPRECATION-GUIDE",),
    remediation=f"Use the replacement API version the finding names (see {GUIDE}); `kubectl convert` migrates a "
                "manifest.",
    config={"clusterVersion": {"type": "string", "default": DEFAULT_CLUSTER_VERSION,
                               "description": "Kubernetes version of the cluster when the stack has no EKS cluster."}},
)
def removed_api_versions(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    versions = [minor(c.get("version")) for c in stack.of_type(EKS_CLUSTER)]
    known_versions = [v for v in versions if v is not None]
    # An unknown cluster version (preview) is judged at the oldest version the stack pins, else at the default.
    cluster = min(known_versions) if known_versions else minor(config.get("clusterVersion") or DEFAULT_CLUSTER_VERSION)
    if cluster is None:
        return

    def check(res: Resource) -> Iterable[str]:
        gone = removal(res.type)
        if gone is not None and cluster >= (minor(gone[0]) or (0, 0)):
            release, replacement = gone
            yield (f"{api_version_of(res.type)} {kind_of(res.type)} is not served since Kubernetes {release} "
                   f"(cluster {cluster[0]}.{cluster[1]}): use {replacement}")

    yield from each([r for r in stack.resources if r.type.startswith("kubernetes:")], check)
