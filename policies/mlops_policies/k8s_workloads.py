"""Kubernetes workloads: pod security, resources (GPU too), images, tokens, namespaces.

Direct objects (Pod, ReplicationController, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, in every API
version: WORKLOAD_VERSIONS) are checked in full. For Helm
releases only what the release's `values` set is checked: a chart default we cannot see is not applicable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .core import Resource, ResourceCheck, dig, is_unknown, known, resource_policy

POD = "kubernetes:core/v1:Pod"
CRONJOB = "kubernetes:batch/v1:CronJob"
# Workloads are judged by kind, in every API version pulumi_kubernetes 4.34.2 can register (its
# <group>/<version>/<Kind>.py classes; tests/policies/test_k8s_versions.py walks the SDK). The removed versions
# (extensions/v1beta1 DaemonSet, batch/v1beta1 CronJob, ...) fail at apply: mlops-k8s-removed-api-versions says so.
WORKLOAD_VERSIONS: dict[str, tuple[str, ...]] = {
    "Pod": ("core/v1",),
    "ReplicationController": ("core/v1",),
    "Deployment": ("apps/v1", "apps/v1beta1", "apps/v1beta2", "extensions/v1beta1"),
    "StatefulSet": ("apps/v1", "apps/v1beta1", "apps/v1beta2"),
    "DaemonSet": ("apps/v1", "apps/v1beta2", "extensions/v1beta1"),
    "ReplicaSet": ("apps/v1", "apps/v1beta2", "extensions/v1beta1"),
    "Job": ("batch/v1",),
    "CronJob": ("batch/v1", "batch/v1beta1", "batch/v2alpha1"),
}
WORKLOADS = tuple(f"kubernetes:{v}:{kind}" for kind, versions in WORKLOAD_VERSIONS.items() for v in versions)
HELM = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NAMESPACED = (*WORKLOADS, SERVICE_ACCOUNT, "kubernetes:core/v1:Service", "kubernetes:networking.k8s.io/v1:Ingress",
              "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret", "kubernetes:rbac.authorization.k8s.io/v1:Role",
              "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
EXTENDED = ("nvidia.com/gpu", "aws.amazon.com/neuron", "aws.amazon.com/neuroncore", "vpc.amazonaws.com/efa")
POD_CONTROLS = ("SOC2 CC6.8", "ISO27001 A.8.9")


def kind_of(type_token: str) -> str:
    """`Deployment` from `kubernetes:apps/v1beta2:Deployment`."""
    return type_token.rsplit(":", 1)[-1]


def api_version_of(type_token: str) -> str:
    """`apps/v1beta2` from `kubernetes:apps/v1beta2:Deployment` (`v1` for the core group)."""
    version = type_token.split(":")[1] if type_token.count(":") >= 2 else ""
    return version.removeprefix("core/")


def pod_spec(res: Resource) -> Mapping[str, Any]:
    kind = kind_of(res.type)
    if kind == "Pod":
        path: tuple[str, ...] = ("spec",)
    elif kind == "CronJob":
        path = ("spec", "jobTemplate", "spec", "template", "spec")
    else:
        path = ("spec", "template", "spec")
    spec = known(res.get(*path), "pod spec")
    return spec if isinstance(spec, Mapping) else {}


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, container) for init, regular and ephemeral containers; unknown containers are skipped."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(key)
        for i, c in enumerate(items if isinstance(items, list) else []):
            if isinstance(c, Mapping):
                name = c.get("name")
                yield (name if isinstance(name, str) else f"{key}[{i}]"), c


def helm_values(res: Resource) -> Mapping[str, Any]:
    values = known(res.get("values"), "Helm values")
    return values if isinstance(values, Mapping) else {}


def walk(values: Any, path: str = "values") -> Iterator[tuple[str, str, Any]]:
    """(path of the parent, key, value) for every mapping entry in Helm values, depth first."""
    if isinstance(values, Mapping):
        for key, value in values.items():
            yield path, str(key), value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(values, list):
        for i, value in enumerate(values):
            yield from walk(value, f"{path}[{i}]")


def security_contexts(values: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for parent, key, value in walk(values):
        if "securitycontext" in key.lower() and isinstance(value, Mapping):
            yield f"{parent}.{key}", value


@dataclass(frozen=True)
class Subject:
    """One securityContext a policy judges: a container of a direct workload (with its pod's context), or a
    `*securityContext` mapping in a Helm release's values (only what the values set is visible there)."""

    where: str
    """`container 'app'`, or the values path of the mapping (`values.controller.securityContext`)."""
    sc: Mapping[str, Any]
    pod_sc: Mapping[str, Any]
    complete: bool
    """True for a container (a missing setting is a finding); False for Helm values (chart defaults are unseen)."""

    def setting(self, *path: str, inherit: bool = False) -> Any:
        """The value at `path`, from the container's context, else (with `inherit`) the pod's."""
        value = dig(self.sc, *path)
        return dig(self.pod_sc, *path) if value is None and inherit else value

    def problem(self, in_values: str, in_container: str) -> str:
        return f"{self.where}.{in_values}" if not self.complete else f"{self.where} {in_container}"


def security_subjects(res: Resource) -> Iterator[Subject]:
    """Every securityContext of a workload or Helm release, as one kind of thing for every pod-security policy."""
    if res.type in HELM:
        for path, sc in security_contexts(helm_values(res)):
            yield Subject(path, sc, {}, complete=False)
        return
    spec = pod_spec(res)
    pod_sc = spec.get("securityContext")
    for name, c in containers(spec):
        own = c.get("securityContext")
        yield Subject(f"container '{name}'", own if isinstance(own, Mapping) else {},
                      pod_sc if isinstance(pod_sc, Mapping) else {}, complete=True)


def _unset(subject: Subject, value: Any, wanted: Any) -> bool:
    """A container that does not set `wanted` (unknown values are not findings); never for Helm values."""
    return subject.complete and value is not wanted and not is_unknown(value)


def workload_policy(name: str, *, helm: bool, **kwargs: Any) -> Callable[[ResourceCheck], ResourceCheck]:
    types = [*WORKLOADS, *HELM] if helm else list(WORKLOADS)
    return resource_policy(name, types=types, pack="mlops-security", **kwargs)


@workload_policy(
    "mlops-k8s-no-privileged", helm=True,
    description="Containers do not run privileged.",
    severity="critical",
    controls=("CKV_K8S_16", "CIS-EKS 4.2.1", *POD_CONTROLS),
    remediation="Remove securityContext.privileged (or set it to false); grant specific capabilities instead.",
)
def no_privileged(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for s in security_subjects(res):
        if s.setting("privileged") is True:
            yield s.problem("privileged is true", "is privileged")


@workload_policy(
    "mlops-k8s-no-privilege-escalation", helm=True,
    description="Containers set allowPrivilegeEscalation: false.",
    severity="high",
    controls=("CKV_K8S_20", "CIS-EKS 4.2.5", *POD_CONTROLS),
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
)
def no_privilege_escalation(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for s in security_subjects(res):
        value = s.setting("allowPrivilegeEscalation")
        if value is True or _unset(s, value, False):
            yield s.problem("allowPrivilegeEscalation is true", "does not set allowPrivilegeEscalation: false")


@workload_policy(
    "mlops-k8s-run-as-non-root", helm=True,
    description="Containers run as a non-root user.",
    severity="high",
    controls=("CKV_K8S_23", "CIS-EKS 4.2.6", *POD_CONTROLS),
    remediation="Set runAsNonRoot: true and a non-zero runAsUser in the pod or container securityContext.",
)
def run_as_non_root(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for s in security_subjects(res):
        user, non_root = s.setting("runAsUser", inherit=True), s.setting("runAsNonRoot", inherit=True)
        if user == 0:
            yield s.problem("runAsUser is 0", "runs as UID 0")
        if non_root is False and not s.complete:
            yield s.problem("runAsNonRoot is false", "")
        elif user != 0 and _unset(s, non_root, True):
            yield s.problem("", "does not set runAsNonRoot: true")


@workload_policy(
    "mlops-k8s-no-host-namespaces", helm=True,
    description="Pods do not share the host's network, PID or IPC namespace.",
    severity="high",
    controls=("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19", "CIS-EKS 4.2.2", "CIS-EKS 4.2.3", "CIS-EKS 4.2.4",
              *POD_CONTROLS),
    remediation="Remove hostNetwork, hostPID and hostIPC from the pod spec.",
)
def no_host_namespaces(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    keys = ("hostNetwork", "hostPID", "hostIPC")
    if res.type in HELM:
        for parent, key, value in walk(helm_values(res)):
            if key in keys and value is True:
                yield f"{parent}.{key} is true"
        return
    spec = pod_spec(res)
    for key in keys:
        if spec.get(key) is True:
            yield f"pod uses {key}"


@workload_policy(
    "mlops-k8s-no-host-path", helm=False,
    description="Pods mount no hostPath volumes.",
    severity="high",
    controls=("CKV_K8S_27", "CIS-EKS 4.2.8", *POD_CONTROLS),
    remediation="Use emptyDir, a PVC or a CSI volume instead of hostPath.",
)
def no_host_path(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for vol in pod_spec(res).get("volumes") or []:
        if isinstance(vol, Mapping) and isinstance(vol.get("hostPath"), Mapping):
            yield f"volume '{vol.get('name')}' mounts hostPath {dig(vol, 'hostPath', 'path')}"


@workload_policy(
    "mlops-k8s-drop-all-capabilities", helm=True,
    description="Containers drop ALL Linux capabilities (the exact, upper-case value Pod Security admission reads).",
    severity="medium",
    controls=("CKV_K8S_28", "CKV_K8S_37", "CIS-EKS 4.2.9", *POD_CONTROLS),
    remediation="Set securityContext.capabilities.drop: [ALL] (upper case).",
)
def drop_all(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for s in security_subjects(res):
        drop = s.setting("capabilities", "drop")
        judged = s.complete or isinstance(s.setting("capabilities"), Mapping)
        if not judged or is_unknown(drop) or "ALL" in (drop or []):
            continue
        spelled = [d for d in drop or [] if isinstance(d, str) and d.upper() == "ALL"]
        if spelled:
            # containerd's CRI plugin matches "ALL" case-insensitively (pkg/cri/util/strings.go InStringSlice), so
            # the container would run without capabilities; Pod Security admission's restricted check compares
            # the string to "ALL" exactly (pod-security-admission policy/check_capabilities_restricted.go).
            yield s.problem(f"capabilities.drop lists {spelled[0]!r}, which restricted Pod Security admission "
                            "rejects (it requires \"ALL\"); write drop: [ALL]",
                            f"drops {spelled[0]!r}: the runtime accepts it, but restricted Pod Security admission "
                            "rejects the pod (it requires \"ALL\", upper case); write drop: [ALL]")
        else:
            yield s.problem("capabilities does not drop ALL", "does not drop ALL capabilities")


@workload_policy(
    "mlops-k8s-no-added-capabilities", helm=True,
    description="Containers add no Linux capabilities beyond an allowed list.",
    severity="high",
    controls=("CKV_K8S_25", "CKV_K8S_39", "CIS-EKS 4.2.9", *POD_CONTROLS),
    remediation="Remove securityContext.capabilities.add (NET_BIND_SERVICE is allowed by default).",
    config={"allowed": {"type": "array", "items": {"type": "string"}, "default": ["NET_BIND_SERVICE"]}},
)
def no_added_capabilities(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    allowed = set(config.get("allowed") or [])
    for s in security_subjects(res):
        add = s.setting("capabilities", "add")
        extra = ", ".join(str(a) for a in (add if isinstance(add, list) else []) if a not in allowed)
        if extra:
            yield s.problem(f"capabilities adds {extra}", f"adds capabilities {extra}")


@workload_policy(
    "mlops-k8s-seccomp", helm=True,
    description="Containers run with the RuntimeDefault (or a Localhost) seccomp profile.",
    severity="medium",
    controls=("CKV_K8S_31", "CIS-EKS 4.2.7", *POD_CONTROLS),
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
)
def seccomp(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for s in security_subjects(res):
        kind = s.setting("seccompProfile", "type", inherit=True)
        if kind == "Unconfined":
            yield s.problem("seccompProfile.type is Unconfined", "runs seccomp Unconfined")
        elif s.complete and not is_unknown(kind) and kind not in ("RuntimeDefault", "Localhost"):
            yield s.problem("", "has no seccomp profile (RuntimeDefault)")


@workload_policy(
    "mlops-k8s-read-only-root-fs", helm=True,
    description="Containers have a read-only root filesystem.",
    severity="medium",
    controls=("CKV_K8S_22", *POD_CONTROLS),
    remediation="Set securityContext.readOnlyRootFilesystem: true; mount emptyDir volumes where the app writes.",
)
def read_only_root(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for s in security_subjects(res):
        value = s.setting("readOnlyRootFilesystem")
        if (value is False and not s.complete) or _unset(s, value, True):
            yield s.problem("readOnlyRootFilesystem is false", "does not set readOnlyRootFilesystem: true")
