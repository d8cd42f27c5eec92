"""Pod Security Admission as the API server runs it: every pod template in the stack (ours or rendered from a
chart) against the `pod-security.kubernetes.io/enforce` level of its namespace as the stack declares it.

The API server enforces on Pods only: it admits a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob
or ReplicationController whose template violates the level (with a warning), then rejects every pod the
controller creates from it, so the workload never runs (and an atomic Helm release rolls back). The checks are
upstream's (psa_checks.py, psa_registry.py: k8s.io/pod-security-admission v0.35, Kubernetes v1.35).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .core import UNKNOWN, NotApplicable, Resource, Stack, dig, has_unknown, stack_policy
from .psa_checks import MAX_VERSION, Version
from .psa_registry import LevelVersion, evaluate, policy_from_labels

CLUSTER = "aws:eks/cluster:Cluster"
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
"""Where each pod-creating kind keeps its pod (upstream admission.go DefaultPodSpecExtractor)."""
WORKLOAD_GROUPS = frozenset({"core", "apps", "batch", "extensions"})
RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")


def kind_of(type_token: str) -> tuple[str, str, str] | None:
    """(group, version, kind) of a Pulumi Kubernetes type token `kubernetes:<group>/<version>:<Kind>`."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or "/" not in parts[1]:
        return None
    group, _, version = parts[1].partition("/")
    return group, version, parts[2]


def pod_of(res: Resource) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(pod metadata, pod spec) of a pod-creating object, or None for any other type."""
    parsed = kind_of(res.type)
    if parsed is None or parsed[0] not in WORKLOAD_GROUPS or parsed[2] not in TEMPLATE_PATHS:
        return None
    template = res.get(*TEMPLATE_PATHS[parsed[2]]) if TEMPLATE_PATHS[parsed[2]] else res.props
    if template is UNKNOWN or dig(template, "spec") is UNKNOWN:
        raise NotApplicable("the pod template is not known yet")
    meta, spec = dig(template, "metadata"), dig(template, "spec")
    return (meta if isinstance(meta, Mapping) else {}), (spec if isinstance(spec, Mapping) else {})


def release_of(res: Resource) -> str | None:
    """The name of the Helm release a rendered object came from (its parent's URN names the release)."""
    if not res.parent:
        return None
    parts = res.parent.split("::", 3)  # urn:pulumi:<stack>::<project>::<parent types $-joined>::<name>
    return parts[3] if len(parts) == 4 and parts[2].rsplit("$", 1)[-1] in RELEASE_TYPES else None


def describe(res: Resource, kind: str) -> str:
    """`Kind namespace/name (release R)`: the object as the cluster names it, and the release it came from."""
    ns, name = res.get("metadata", "namespace"), res.get("metadata", "name")
    where = f"{ns}/" if isinstance(ns, str) and ns else ""
    text = f"{kind} {where}{name if isinstance(name, str) else res.name}"
    release = release_of(res)
    return f"{text} (release {release})" if release else text


def cluster_version(stack: Stack) -> Version:
    """The EKS cluster's Kubernetes minor version (capped at the evaluator's), else the library's pin."""
    versions: list[Version] = []
    for cluster in stack.of_type(CLUSTER):
        major, _, minor = str(cluster.get("version")).partition(".")
        if major.isdigit() and minor.isdigit():
            versions.append((int(major), int(minor)))
    return min(MAX_VERSION, versions[0]) if len(versions) == 1 else MAX_VERSION


@dataclass(frozen=True)
class Namespaces:
    """Enforce level per namespace: the stack's Namespace objects, then the config's `namespaceLevels`."""

    levels: Mapping[str, LevelVersion | None]
    """None: the namespace's labels are not known yet."""

    @classmethod
    def of(cls, stack: Stack, config: Mapping[str, Any]) -> Namespaces:
        cluster = cluster_version(stack)
        levels: dict[str, LevelVersion | None] = {
            str(name): policy_from_labels({ENFORCE_KEY: level}, cluster)
            for name, level in (config.get("namespaceLevels") or {}).items()}
        for ns in stack.resources:
            if kind_of(ns.type) != ("core", "v1", "Namespace"):
                continue
            name, labels = ns.get("metadata", "name"), ns.get("metadata", "labels")
            if isinstance(name, str):
                levels[name] = None if has_unknown(labels) else policy_from_labels(labels, cluster)
        return cls(levels)


ENFORCE_KEY = "pod-security.kubernetes.io/enforce"


def admission_findings(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[Resource, str]]:
    namespaces = Namespaces.of(stack, config)
    for res in stack.resources:
        try:
            pod = pod_of(res)
        except NotApplicable:
            continue
        if pod is None:
            continue
        ns = res.get("metadata", "namespace")
        if ns is UNKNOWN:
            continue
        policy = namespaces.levels.get(ns if isinstance(ns, str) and ns else "default")
        if policy is None or policy.level == "privileged":
            continue
        kind = res.type.rsplit(":", 1)[-1]
        who = "the pod" if kind == "Pod" else f"every pod the {kind} creates"
        for violation in evaluate(policy, *pod):
            yield res, (f"{describe(res, kind)}: namespace {ns or 'default'} enforces Pod Security \"{policy}\"; "
                        f"the API server rejects {who}: {violation.check}: {violation.detail}")


@stack_policy(
    "mlops-k8s-pod-security-admission",
    description="Every pod template passes the Pod Security Standards level its namespace enforces, as the API "
                "server's Pod Security Admission (Kubernetes v1.35) judges it.",
    severity="high",
    pack="mlops-security",
    controls=("PSS v1.35", "CIS-EKS 4.2", "SOC2 CC6.8", "ISO27001 A.8.9"),
    remediation="Make the pod meet its namespace's level (see the rule named in the message: upstream's check id), "
                "through the chart's values for a rendered object; or run it in a namespace whose level allows it.",
    strictness="always",
    config={"namespaceLevels": {
        "type": "object", "additionalProperties": {"type": "string"}, "default": {},
        "description": "Enforce level of namespaces made outside the stack (name -> privileged, baseline or "
                       "restricted). A namespace neither in the stack nor here is not judged."}},
)
def pod_security_admission(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    return admission_findings(stack, config)
