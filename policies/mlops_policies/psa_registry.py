"""Pod Security Admission's registry and restricted checks, ported from k8s.io/pod-security-admission v0.35.x
(see psa_checks.py): which checks run for a namespace's enforce level and version, in upstream order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core import UNKNOWN, dig
from .psa_checks import (
    ENFORCE,
    ENFORCE_VERSION,
    LEVELS,
    MAX_VERSION,
    SELINUX_1_0,
    SELINUX_1_31,
    SYSCTLS_1_0,
    SYSCTLS_1_27,
    SYSCTLS_1_29,
    SYSCTLS_1_32,
    CheckFn,
    Meta,
    Spec,
    Version,
    app_armor_profile,
    bad_containers,
    capabilities_baseline,
    cname,
    containers,
    host_namespaces,
    host_path_volumes,
    host_ports,
    host_probes_and_lifecycle,
    plural,
    privileged,
    proc_mount,
    profile_setters,
    quote,
    relaxed_in_user_namespace,
    sc,
    seccomp_baseline_1_0,
    seccomp_baseline_1_19,
    selinux,
    setters,
    sysctls,
    windows,
    windows_host_process,
)


@dataclass(frozen=True)
class LevelVersion:
    level: str
    version: Version

    def __str__(self) -> str:
        return f"{self.level}:v{self.version[0]}.{self.version[1]}"


@dataclass(frozen=True)
class Violation:
    check: str
    """The upstream check id, e.g. `runAsNonRoot`, `capabilities_restricted`."""
    detail: str


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    versions: tuple[tuple[Version, CheckFn, frozenset[str]], ...]
    """(minimum policy version, check, baseline check ids it overrides), strictly increasing."""

    def at(self, version: Version) -> tuple[CheckFn, frozenset[str]] | None:
        found = None
        for minimum, fn, overrides in self.versions:
            if minimum <= version:
                found = (fn, overrides)
        return found


def parse_version(text: Any) -> Version | None:
    """api.ParseVersion: "latest" or "v1.<n>"; anything else is latest (None) with an error upstream."""
    if isinstance(text, str) and text.startswith("v1.") and text[3:].isdigit() and (text[3:] == "0" or text[3] != "0"):
        return (1, int(text[3:]))
    return None


def policy_from_labels(labels: Any, cluster: Version = MAX_VERSION) -> LevelVersion:
    """The enforce level and version of a namespace's labels (api.PolicyToEvaluate; the default policy is
    privileged:latest). An invalid level enforces restricted, an invalid version latest, as upstream."""
    labels = labels if isinstance(labels, Mapping) else {}
    level = labels.get(ENFORCE, "privileged")
    if level not in LEVELS:
        level = "restricted"
    version = parse_version(labels.get(ENFORCE_VERSION)) or MAX_VERSION
    return LevelVersion(level, min(version, cluster, MAX_VERSION))



# --- restricted --------------------------------------------------------------------------------------------------

def _skip_windows(check: CheckFn) -> CheckFn:  # the 1.25 revisions: a Windows pod cannot set these fields
    def unless_windows(meta: Meta, spec: Spec) -> str | None:
        return None if windows(spec) else check(meta, spec)

    return unless_windows


def allow_privilege_escalation(meta: Meta, spec: Spec) -> str | None:  # check_allowPrivilegeEscalation.go
    bad = bad_containers(spec, lambda c: sc(c, "allowPrivilegeEscalation") not in (False, UNKNOWN))
    return f"{setters(False, bad)} must set securityContext.allowPrivilegeEscalation=false" if bad else None


def capabilities_restricted(meta: Meta, spec: Spec) -> str | None:  # check_capabilities_restricted.go
    missing, adding, caps = [], [], set()
    for c in containers(spec):
        capabilities = sc(c, "capabilities")
        if capabilities is UNKNOWN:
            continue
        drop = dig(capabilities, "drop") if isinstance(capabilities, Mapping) else None
        if drop is not UNKNOWN and not (isinstance(drop, list) and ("ALL" in drop or UNKNOWN in drop)):
            missing.append(cname(c))  # "ALL" exactly: "all" or "All" does not count
        add = dig(capabilities, "add") if isinstance(capabilities, Mapping) else None
        extra = {str(a) for a in add if a not in ("NET_BIND_SERVICE", UNKNOWN)} if isinstance(add, list) else set()
        if extra:
            adding.append(cname(c))
            caps |= extra
    details = [f'{setters(False, missing)} must set securityContext.capabilities.drop=["ALL"]'] if missing else []
    if adding:
        details.append(f"{setters(False, adding)} must not include {quote(sorted(caps))} in "
                       "securityContext.capabilities.add")
    return "; ".join(details) or None


def restricted_volumes(meta: Meta, spec: Spec) -> str | None:  # check_restrictedVolumes.go
    bad, kinds = [], set()
    for vol in spec.get("volumes") or []:
        if not isinstance(vol, Mapping):
            continue
        sources = [k for k, v in vol.items() if k != "name" and v is not None]
        if not sources or UNKNOWN in vol.values() or any(k in ALLOWED_VOLUMES for k in sources):
            continue  # no source at all: the API server defaults it to emptyDir before admission (SetDefaults_Volume)
        bad.append(str(vol.get("name")))
        kinds.add(next((k for k in sources if k in RESTRICTED_VOLUMES), "unknown"))
    if not bad:
        return None
    return (f"{plural('volume', 'volumes', len(bad))} {quote(bad)} {plural('uses', 'use', len(bad))} "
            f"{plural('restricted volume type', 'restricted volume types', len(kinds))} {quote(sorted(kinds))}")


ALLOWED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                             "persistentVolumeClaim", "projected", "secret"})
RESTRICTED_VOLUMES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
                      "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
                      "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos")


def run_as_non_root(meta: Meta, spec: Spec) -> str | None:  # check_runAsNonRoot.go runAsNonRoot1_0
    pod = sc(spec, "runAsNonRoot")
    pod_false, pod_ok = pod is False, pod in (True, UNKNOWN)
    explicit = bad_containers(spec, lambda c: sc(c, "runAsNonRoot") is False)
    if pod_false or explicit:
        return f"{setters(pod_false, explicit)} must not set securityContext.runAsNonRoot=false"
    implicit = [] if pod_ok else bad_containers(spec, lambda c: sc(c, "runAsNonRoot") is None)
    if implicit:
        return (f"pod or {plural('container', 'containers', len(implicit))} {quote(implicit)} must set "
                "securityContext.runAsNonRoot=true")
    return None


def run_as_user(meta: Meta, spec: Spec) -> str | None:  # check_runAsUser.go runAsUser1_23
    pod = sc(spec, "runAsUser") == 0
    bad = bad_containers(spec, lambda c: sc(c, "runAsUser") == 0)
    return f"{setters(pod, bad)} must not set runAsUser=0" if pod or bad else None


def seccomp_restricted(meta: Meta, spec: Spec) -> str | None:  # check_seccompProfile_restricted.go 1_19
    pod_bad, bad, values = profile_setters(spec, "seccompProfile")
    if pod_bad or bad:
        return f"{setters(pod_bad, bad)} must not set securityContext.seccompProfile.type to {quote(sorted(values))}"
    pod_set = isinstance(sc(spec, "seccompProfile"), Mapping) or sc(spec, "seccompProfile") is UNKNOWN
    implicit = [] if pod_set else bad_containers(spec, lambda c: sc(c, "seccompProfile") is None)
    if implicit:
        return (f"pod or {plural('container', 'containers', len(implicit))} {quote(implicit)} must set "
                'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')
    return None


# --- the registry (registry.go) ----------------------------------------------------------------------------------

def _check(id_: str, level: str, *versions: tuple[Version, CheckFn] | tuple[Version, CheckFn, str]) -> Check:
    return Check(id_, level, tuple((v[0], v[1], frozenset(v[2:])) for v in versions))


NONE = frozenset[str]()
CHECKS = (
    _check("appArmorProfile", "baseline", ((1, 0), app_armor_profile)),
    _check("capabilities_baseline", "baseline", ((1, 0), capabilities_baseline)),
    _check("hostNamespaces", "baseline", ((1, 0), host_namespaces)),
    _check("hostPathVolumes", "baseline", ((1, 0), host_path_volumes)),
    _check("hostPorts", "baseline", ((1, 0), host_ports)),
    _check("hostProbesAndHostLifecycle", "baseline", ((1, 34), host_probes_and_lifecycle)),
    _check("privileged", "baseline", ((1, 0), privileged)),
    _check("procMount", "baseline", ((1, 0), proc_mount), ((1, 35), relaxed_in_user_namespace(proc_mount))),
    _check("seLinuxOptions", "baseline", ((1, 0), selinux(SELINUX_1_0)), ((1, 31), selinux(SELINUX_1_31))),
    _check("seccompProfile_baseline", "baseline", ((1, 0), seccomp_baseline_1_0), ((1, 19), seccomp_baseline_1_19)),
    _check("sysctls", "baseline", ((1, 0), sysctls(SYSCTLS_1_0)), ((1, 27), sysctls(SYSCTLS_1_27)),
           ((1, 29), sysctls(SYSCTLS_1_29)), ((1, 32), sysctls(SYSCTLS_1_32))),
    _check("windowsHostProcess", "baseline", ((1, 0), windows_host_process)),
    _check("allowPrivilegeEscalation", "restricted", ((1, 8), allow_privilege_escalation),
           ((1, 25), _skip_windows(allow_privilege_escalation))),
    _check("capabilities_restricted", "restricted", ((1, 22), capabilities_restricted, "capabilities_baseline"),
           ((1, 25), _skip_windows(capabilities_restricted), "capabilities_baseline")),
    _check("procMount_restricted", "restricted", ((1, 35), proc_mount, "procMount")),
    _check("restrictedVolumes", "restricted", ((1, 0), restricted_volumes, "hostPathVolumes")),
    _check("runAsNonRoot", "restricted", ((1, 0), run_as_non_root), ((1, 35), relaxed_in_user_namespace(run_as_non_root))),
    _check("runAsUser", "restricted", ((1, 23), run_as_user), ((1, 35), relaxed_in_user_namespace(run_as_user))),
    _check("seccompProfile_restricted", "restricted",
           ((1, 19), seccomp_restricted, "seccompProfile_baseline"),
           ((1, 25), _skip_windows(seccomp_restricted), "seccompProfile_baseline")),
)


def checks_for(policy: LevelVersion) -> list[tuple[str, CheckFn]]:
    """The (id, check) pairs upstream runs for `policy`: baseline ids sorted, then restricted ids sorted; at
    restricted, a baseline check that an active restricted check overrides is left out."""
    if policy.level == "privileged":
        return []
    version = min(policy.version, MAX_VERSION)
    active = {c.id: (c, found) for c in CHECKS if (found := c.at(version)) is not None}
    overridden = {o for c, (_, overrides) in active.values() if c.level == "restricted" for o in overrides}
    wanted = [(c, fn) for c, (fn, _) in active.values()
              if (c.level == "baseline" and (policy.level == "baseline" or c.id not in overridden))
              or (c.level == "restricted" and policy.level == "restricted")]
    return [(c.id, fn) for c, fn in sorted(wanted, key=lambda p: (p[0].level != "baseline", p[0].id))]


def evaluate(policy: LevelVersion, meta: Meta, spec: Spec) -> list[Violation]:
    """Every check of `policy` the pod (template metadata and pod spec) fails, in upstream order."""
    found = []
    for id_, fn in checks_for(policy):
        detail = fn(meta, spec)
        if detail is not None:
            found.append(Violation(id_, detail))
    return found
