"""The Pod Security Standards' checks as the API server's Pod Security Admission runs them: a pure evaluator.

Ported from k8s.io/pod-security-admission v0.35.x (Kubernetes v1.35, the EKS version the library pins;
`policy/` is identical from v0.35.0 to v0.35.6): one function per upstream `policy/check_*.go`, with the
upstream check id, level, the policy versions each revision applies from, and the restricted checks that
override a baseline one (`OverrideCheckIDs`). `evaluate()` is `registry.go`'s `EvaluatePod` (baseline checks,
then restricted ones, each sorted by id); `policy_from_labels()` is `api.PolicyToEvaluate` for `enforce`.

Containers are visited as upstream `visitor.go` does: init, regular and ephemeral containers. A value that is
not known yet (`UNKNOWN`) is never a violation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .core import UNKNOWN, dig

Version = tuple[int, int]
MAX_VERSION: Version = (1, 35)
"""The newest policy version of k8s.io/pod-security-admission v0.35 (`latest` on a v1.35 API server)."""
LEVELS = ("privileged", "baseline", "restricted")
ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"

Meta = Mapping[str, Any]
Spec = Mapping[str, Any]
CheckFn = Callable[[Meta, Spec], "str | None"]


# --- helpers (policy/helpers.go, visitor.go) ---------------------------------------------------------------------

def containers(spec: Spec) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(key)
        for c in items if isinstance(items, list) else []:
            if isinstance(c, Mapping):
                yield c


def cname(c: Mapping[str, Any]) -> str:
    return str(c.get("name"))


def sc(obj: Mapping[str, Any], *path: str) -> Any:
    return dig(obj, "securityContext", *path)


def quote(items: Iterator[str] | list[str] | set[str]) -> str:
    return ", ".join(f'"{i}"' for i in items)


def plural(one: str, many: str, n: int) -> str:
    return one if n == 1 else many


def setters(pod: bool, bad: list[str]) -> str:
    parts = ["pod"] if pod else []
    if bad:
        parts.append(f"{plural('container', 'containers', len(bad))} {quote(bad)}")
    return " and ".join(parts)


def user_namespace(spec: Spec) -> bool:
    return spec.get("hostUsers") is False


def annotations_of(meta: Meta) -> Mapping[str, Any]:
    found = meta.get("annotations")
    return found if isinstance(found, Mapping) else {}


def windows(spec: Spec) -> bool:
    return bool(dig(spec, "os", "name") == "windows")


def bad_containers(spec: Spec, test: Callable[[Mapping[str, Any]], bool]) -> list[str]:
    return [cname(c) for c in containers(spec) if test(c)]


def each_sc(spec: Spec, *path: str) -> Iterator[tuple[Mapping[str, Any], Any]]:
    for c in containers(spec):
        yield c, sc(c, *path)


# --- baseline ----------------------------------------------------------------------------------------------------

def privileged(meta: Meta, spec: Spec) -> str | None:  # check_privileged.go
    bad = bad_containers(spec, lambda c: sc(c, "privileged") is True)
    return f"{setters(False, bad)} must not set securityContext.privileged=true" if bad else None


def host_namespaces(meta: Meta, spec: Spec) -> str | None:  # check_hostNamespaces.go
    used = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    return ", ".join(used) or None


def host_path_volumes(meta: Meta, spec: Spec) -> str | None:  # check_hostPathVolumes.go
    vols = [str(v.get("name")) for v in spec.get("volumes") or [] if isinstance(v, Mapping) and v.get("hostPath") is not None]
    return f"{plural('volume', 'volumes', len(vols))} {quote(vols)}" if vols else None


def host_ports(meta: Meta, spec: Spec) -> str | None:  # check_hostPorts.go
    bad, ports = [], set()
    for c in containers(spec):
        used = [p.get("hostPort") for p in c.get("ports") or [] if isinstance(p, Mapping)]
        used = [p for p in used if p not in (None, 0, UNKNOWN)]
        if used:
            bad.append(cname(c))
            ports |= {str(p) for p in used}
    return (f"{setters(False, bad)} {plural('uses', 'use', len(bad))} {plural('hostPort', 'hostPorts', len(ports))} "
            f"{', '.join(sorted(ports))}") if bad else None


BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})


def capabilities_baseline(meta: Meta, spec: Spec) -> str | None:  # check_capabilities_baseline.go
    bad, caps = [], set()
    for c, add in each_sc(spec, "capabilities", "add"):
        extra = {str(a) for a in add if a is not UNKNOWN and a not in BASELINE_CAPABILITIES} if isinstance(add, list) else set()
        if extra:
            bad.append(cname(c))
            caps |= extra
    return (f"{setters(False, bad)} must not include {quote(sorted(caps))} in securityContext.capabilities.add"
            if bad else None)


def valid_type(value: Any) -> bool:
    return value in ("RuntimeDefault", "Localhost", UNKNOWN)


def profile_setters(spec: Spec, field: str) -> tuple[bool, list[str], set[str]]:
    """(pod sets a bad `field`.type, containers setting a bad one, bad values)."""
    values: set[str] = set()
    pod_profile = sc(spec, field)
    pod_bad = isinstance(pod_profile, Mapping) and not valid_type(pod_profile.get("type"))
    if pod_bad:
        values.add(str(dig(pod_profile, "type") or ""))
    bad = []
    for c, profile in each_sc(spec, field):
        if isinstance(profile, Mapping) and not valid_type(profile.get("type")):
            bad.append(cname(c))
            values.add(str(profile.get("type") or ""))
    return pod_bad, bad, values


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def annotation_ok(value: Any) -> bool:
    return value in ("runtime/default", "docker/default", UNKNOWN) or (isinstance(value, str) and value.startswith("localhost/"))


def seccomp_baseline_1_0(meta: Meta, spec: Spec) -> str | None:  # check_seccompProfile_baseline.go (annotations)
    notes = annotations_of(meta)
    keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_ANNOTATION + cname(c) for c in containers(spec)]
    bad = sorted({f'{k}="{notes[k]}"' for k in keys if k in notes and not annotation_ok(notes[k])})
    return f"forbidden {plural('annotation', 'annotations', len(bad))} {', '.join(bad)}" if bad else None


def seccomp_baseline_1_19(meta: Meta, spec: Spec) -> str | None:  # check_seccompProfile_baseline.go (fields)
    pod_bad, bad, values = profile_setters(spec, "seccompProfile")
    if pod_bad or bad:
        return f"{setters(pod_bad, bad)} must not set securityContext.seccompProfile.type to {quote(sorted(values))}"
    return None


APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def app_armor_profile(meta: Meta, spec: Spec) -> str | None:  # check_appArmorProfile.go
    pod_bad, bad, values = profile_setters(spec, "appArmorProfile")
    found = [setters(pod_bad, bad)] if pod_bad or bad else []
    notes = annotations_of(meta)
    forbidden = sorted(f'{k}="{v}"' for k, v in notes.items() if str(k).startswith(APPARMOR_ANNOTATION)
                       and v != "" and not (v in ("runtime/default", UNKNOWN) or str(v).startswith("localhost/")))
    if forbidden:
        found.append(plural("annotation", "annotations", len(forbidden)))
    if not found:
        return None
    return f"{' and '.join(found)} must not set AppArmor profile type to {quote([*sorted(values), *forbidden])}"


def selinux(allowed: frozenset[str]) -> CheckFn:  # check_seLinuxOptions.go
    def check(meta: Meta, spec: Spec) -> str | None:
        types: set[str] = set()
        user = role = False

        def invalid(opts: Any) -> bool:
            nonlocal user, role
            if not isinstance(opts, Mapping):
                return False
            kind = opts.get("type") or ""
            bad = kind not in allowed and kind is not UNKNOWN
            if bad:
                types.add(str(kind))
            if opts.get("user") not in (None, "", UNKNOWN):
                user = bad = True
            if opts.get("role") not in (None, "", UNKNOWN):
                role = bad = True
            return bad

        pod_bad = invalid(sc(spec, "seLinuxOptions"))
        bad = [cname(c) for c, opts in each_sc(spec, "seLinuxOptions") if invalid(opts)]
        if not (pod_bad or bad):
            return None
        data = [f"{plural('type', 'types', len(types))} {quote(sorted(types))}"] if types else []
        data += ["user may not be set"] if user else []
        data += ["role may not be set"] if role else []
        return f"{setters(pod_bad, bad)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"

    return check


SELINUX_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SELINUX_1_31 = SELINUX_1_0 | {"container_engine_t"}


def proc_mount(meta: Meta, spec: Spec) -> str | None:  # check_procMount_baseline.go procMount_1_0
    bad, kinds = [], set()
    for c, mount in each_sc(spec, "procMount"):
        if mount not in (None, "Default", UNKNOWN):
            bad.append(cname(c))
            kinds.add(str(mount))
    return f"{setters(False, bad)} must not set securityContext.procMount to {quote(sorted(kinds))}" if bad else None


def relaxed_in_user_namespace(check: CheckFn) -> CheckFn:  # relaxPolicyForUserNamespacePod (1.35 revisions)
    def relaxed(meta: Meta, spec: Spec) -> str | None:
        return None if user_namespace(spec) else check(meta, spec)

    return relaxed


SYSCTLS_1_0 = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                         "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"})
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                               "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def sysctls(allowed: frozenset[str]) -> CheckFn:  # check_sysctls.go
    def check(meta: Meta, spec: Spec) -> str | None:
        items = sc(spec, "sysctls")
        names = [str(s.get("name")) for s in items if isinstance(s, Mapping) and s.get("name") is not UNKNOWN
                 and s.get("name") not in allowed] if isinstance(items, list) else []
        return ", ".join(names) or None

    return check


def windows_host_process(meta: Meta, spec: Spec) -> str | None:  # check_windowsHostProcess.go
    pod = sc(spec, "windowsOptions", "hostProcess") is True
    bad = bad_containers(spec, lambda c: sc(c, "windowsOptions", "hostProcess") is True)
    return f"{setters(pod, bad)} must not set securityContext.windowsOptions.hostProcess=true" if pod or bad else None


def host_probes_and_lifecycle(meta: Meta, spec: Spec) -> str | None:  # check_hostProbesAndhostLifecycle.go
    bad, hosts = set(), set()
    for c in containers(spec):
        handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [dig(c, "lifecycle", h) for h in ("postStart", "preStop")]
        for handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = dig(handler, action, "host") if isinstance(handler, Mapping) else None
                if host not in (None, "", UNKNOWN):
                    bad.add(cname(c))
                    hosts.add(str(host))
    if not bad:
        return None
    return (f"{setters(False, sorted(bad))} {plural('uses', 'use', len(bad))} "
            f"{plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} {quote(sorted(hosts))}")
