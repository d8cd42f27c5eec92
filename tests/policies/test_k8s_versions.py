"""The Kubernetes rules know every API version pulumi_kubernetes can register for the kinds they judge."""

from __future__ import annotations

import re
from pathlib import Path

import pulumi_kubernetes
from mlops_policies import k8s_rbac, k8s_versions
from mlops_policies.k8s_workloads import WORKLOAD_VERSIONS, WORKLOADS

from tests.nonempty import each

SDK = Path(pulumi_kubernetes.__file__).parent
TOKEN = re.compile(r"'(kubernetes:[^':]+:[A-Za-z]+)'")


def sdk_tokens(kind: str) -> set[str]:
    """Type tokens of the SDK's `<group>/<version>/<Kind>.py` resource classes (their _internal_init registers it)."""
    found: set[str] = set()
    for path in SDK.glob(f"*/*/{kind}.py"):
        found |= {t for t in TOKEN.findall(path.read_text(encoding="utf-8")) if t.endswith(f":{kind}")}
    return found


def test_workloads_cover_every_api_version_the_sdk_registers() -> None:
    for kind in each(WORKLOAD_VERSIONS):
        tokens = sdk_tokens(kind)
        assert tokens, kind
        assert tokens <= set(WORKLOADS), (kind, sorted(tokens - set(WORKLOADS)))
    assert "kubernetes:extensions/v1beta1:DaemonSet" in WORKLOADS and "kubernetes:batch/v1beta1:CronJob" in WORKLOADS


def test_rbac_rules_cover_every_api_version_the_sdk_registers() -> None:
    roles = sdk_tokens("Role") | sdk_tokens("ClusterRole")
    bindings = sdk_tokens("RoleBinding") | sdk_tokens("ClusterRoleBinding")
    assert len(roles) == 6 and len(bindings) == 6
    assert roles == set(k8s_rbac.ROLES) and bindings == set(k8s_rbac.BINDINGS)


def test_removed_versions_match_what_the_sdk_can_register() -> None:
    """Every removed (apiVersion, kind) names a kind the SDK knows in some version; the served ones are not in it."""
    assert len(k8s_versions.REMOVED) > 40
    for (_, kind), (release, _) in each(k8s_versions.REMOVED.items()):
        assert k8s_versions.minor(release) is not None
        assert sdk_tokens(kind) or kind in ("TokenReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview",
                                            "SubjectAccessReview", "SelfSubjectRulesReview", "Event"), kind
    for served in ("kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:CronJob", "kubernetes:policy/v1:PodDisruptionBudget",
                   "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"):
        assert k8s_versions.removal(served) is None
    assert k8s_versions.removal("kubernetes:extensions/v1beta1:DaemonSet") == ("1.16", "apps/v1")
    assert k8s_versions.removal("kubernetes:core/v1:Pod") is None
