"""Pod Security Admission: the evaluator against upstream's rules (k8s.io/pod-security-admission v0.35), then the
policy on hand-built inventories (namespace lookup, kinds, rendered objects, unknown values)."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_policies.core import UNKNOWN
from mlops_policies.psa_registry import CHECKS, LevelVersion, checks_for, evaluate, policy_from_labels
from mlops_policies.runner import evaluate as run_all

from .cases import Case, check, params
from .helpers import R, inventory, messages, run

GOOD_SC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
POD_SC = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def spec(container: dict[str, Any] | None = None, pod_sc: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A pod spec that restricted admits, with `container` merged into its one container's securityContext."""
    c = {"name": "app", "image": "x", "securityContext": {**GOOD_SC, **(container or {})}}
    return {"securityContext": POD_SC if pod_sc is None else pod_sc, "containers": [c], **extra}


def ids(level: str, pod_spec: dict[str, Any], version: tuple[int, int] = (1, 35),
        meta: dict[str, Any] | None = None) -> list[str]:
    return [v.check for v in evaluate(LevelVersion(level, version), meta or {}, pod_spec)]


# (id, level, pod spec, check ids expected, policy version, pod metadata)
CASES: list[tuple[str, str, dict[str, Any], list[str], tuple[int, int], dict[str, Any]]] = [
    ("hardened", "restricted", spec(), [], (1, 35), {}),
    ("privileged", "baseline", spec({"privileged": True}), ["privileged"], (1, 35), {}),
    ("host-network", "baseline", spec(hostNetwork=True, hostPID=True), ["hostNamespaces"], (1, 35), {}),
    ("host-path", "baseline", spec(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), ["hostPathVolumes"], (1, 35), {}),
    ("host-path-restricted-is-restricted-volumes", "restricted", spec(volumes=[{"name": "h", "hostPath": {"path": "/"}}]),
     ["restrictedVolumes"], (1, 35), {}),
    ("nfs-restricted", "restricted", spec(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]),
     ["restrictedVolumes"], (1, 35), {}),
    ("no-source-is-empty-dir", "restricted", spec(volumes=[{"name": "scratch"}]), [], (1, 35), {}),
    ("nfs-baseline", "baseline", spec(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]), [], (1, 35), {}),
    ("allowed-volumes", "restricted", spec(volumes=[{"name": "a", "emptyDir": {}}, {"name": "b", "csi": {"driver": "d"}},
                                                    {"name": "c", "image": {"reference": "r"}}]), [], (1, 35), {}),
    ("host-port", "baseline", {"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}]}]},
     ["hostPorts"], (1, 35), {}),
    ("added-sys-admin", "baseline", spec({"capabilities": {"add": ["SYS_ADMIN"]}}), ["capabilities_baseline"], (1, 35), {}),
    ("default-set-cap-baseline", "baseline", spec({"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]}}), [], (1, 35), {}),
    ("restricted-overrides-baseline-caps", "restricted", spec({"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}),
     ["capabilities_restricted"], (1, 35), {}),
    ("restricted-caps-before-1.22-use-baseline", "restricted",
     spec({"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}), ["capabilities_baseline"], (1, 21), {}),
    ("drop-all-lowercase", "restricted", spec({"capabilities": {"drop": ["all"]}}), ["capabilities_restricted"], (1, 35), {}),
    ("drop-all-among-others", "restricted", spec({"capabilities": {"drop": ["NET_RAW", "ALL"]}}), [], (1, 35), {}),
    ("no-capabilities", "restricted", spec({"capabilities": None}), ["capabilities_restricted"], (1, 35), {}),
    ("net-bind-service", "restricted", spec({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}), [],
     (1, 35), {}),
    ("escalation-unset", "restricted", spec({"allowPrivilegeEscalation": None}), ["allowPrivilegeEscalation"], (1, 35), {}),
    ("windows-skips-linux-only", "restricted", spec({"allowPrivilegeEscalation": None, "capabilities": None},
                                                    pod_sc={"runAsNonRoot": True}, os={"name": "windows"}), [], (1, 35), {}),
    ("windows-before-1.25", "restricted", spec({"allowPrivilegeEscalation": None}, os={"name": "windows"}),
     ["allowPrivilegeEscalation"], (1, 24), {}),
    ("non-root-at-pod", "restricted", spec(), [], (1, 35), {}),
    ("non-root-container-false", "restricted", spec({"runAsNonRoot": False}), ["runAsNonRoot"], (1, 35), {}),
    ("non-root-unset", "restricted", spec(pod_sc={"seccompProfile": {"type": "RuntimeDefault"}}), ["runAsNonRoot"],
     (1, 35), {}),
    ("non-root-in-container", "restricted",
     spec({"runAsNonRoot": True}, pod_sc={"seccompProfile": {"type": "RuntimeDefault"}}), [], (1, 35), {}),
    ("non-zero-uid-is-not-non-root", "restricted",
     spec({"runAsUser": 1000}, pod_sc={"seccompProfile": {"type": "RuntimeDefault"}}), ["runAsNonRoot"], (1, 35), {}),
    ("user-namespace-1.35", "restricted", spec({"runAsUser": 0, "runAsNonRoot": False}, hostUsers=False), [], (1, 35), {}),
    ("user-namespace-1.34", "restricted", spec({"runAsUser": 0, "runAsNonRoot": False}, hostUsers=False),
     ["runAsNonRoot", "runAsUser"], (1, 34), {}),
    ("uid-zero-at-pod", "restricted", spec(pod_sc={**POD_SC, "runAsUser": 0}), ["runAsUser"], (1, 35), {}),
    ("uid-zero-before-1.23", "restricted", spec(pod_sc={**POD_SC, "runAsUser": 0}), [], (1, 22), {}),
    ("seccomp-unset", "restricted", spec(pod_sc={"runAsNonRoot": True}), ["seccompProfile_restricted"], (1, 35), {}),
    ("seccomp-in-container", "restricted", spec({"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}},
                                                pod_sc={"runAsNonRoot": True}), [], (1, 35), {}),
    ("seccomp-unconfined-container", "restricted", spec({"seccompProfile": {"type": "Unconfined"}}),
     ["seccompProfile_restricted"], (1, 35), {}),
    ("seccomp-unconfined-baseline", "baseline", spec({"seccompProfile": {"type": "Unconfined"}}),
     ["seccompProfile_baseline"], (1, 35), {}),
    ("seccomp-unset-baseline", "baseline", spec(pod_sc={}), [], (1, 35), {}),
    ("seccomp-annotation-before-1.19", "baseline", spec(), ["seccompProfile_baseline"], (1, 18),
     {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}),
    ("apparmor-unconfined", "baseline", spec({"appArmorProfile": {"type": "Unconfined"}}), ["appArmorProfile"], (1, 35), {}),
    ("apparmor-annotation", "baseline", spec(), ["appArmorProfile"], (1, 35),
     {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}}),
    ("apparmor-annotation-localhost", "baseline", spec(), [], (1, 35),
     {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "localhost/p"}}),
    ("selinux-user", "baseline", spec({"seLinuxOptions": {"user": "root"}}), ["seLinuxOptions"], (1, 35), {}),
    ("selinux-engine-1.31", "baseline", spec(pod_sc={"seLinuxOptions": {"type": "container_engine_t"}}), [], (1, 31), {}),
    ("selinux-engine-1.30", "baseline", spec(pod_sc={"seLinuxOptions": {"type": "container_engine_t"}}),
     ["seLinuxOptions"], (1, 30), {}),
    ("sysctl-rmem-1.32", "baseline", spec(pod_sc={"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]}), [],
     (1, 32), {}),
    ("sysctl-rmem-1.31", "baseline", spec(pod_sc={"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]}),
     ["sysctls"], (1, 31), {}),
    ("proc-mount", "baseline", spec({"procMount": "Unmasked"}), ["procMount"], (1, 35), {}),
    ("proc-mount-user-ns-baseline", "baseline", spec({"procMount": "Unmasked"}, hostUsers=False), [], (1, 35), {}),
    ("proc-mount-user-ns-restricted", "restricted", spec({"procMount": "Unmasked"}, hostUsers=False),
     ["procMount_restricted"], (1, 35), {}),
    ("host-process", "baseline", spec(pod_sc={"windowsOptions": {"hostProcess": True}}), ["windowsHostProcess"],
     (1, 35), {}),
    ("probe-host-1.34", "baseline", {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"host": "10.0.0.1",
                                                                                                "port": 80}}}]},
     ["hostProbesAndHostLifecycle"], (1, 34), {}),
    ("probe-host-1.33", "baseline", {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"host": "10.0.0.1",
                                                                                                "port": 80}}}]},
     [], (1, 33), {}),
    ("init-container-counts", "baseline", {**spec(), "initContainers": [{"name": "i", "securityContext": {"privileged": True}}]},
     ["privileged"], (1, 35), {}),
    ("ephemeral-container-counts", "restricted",
     {**spec(), "ephemeralContainers": [{"name": "debug", "securityContext": GOOD_SC}]}, [], (1, 35), {}),
    ("ephemeral-container-escalates", "restricted", {**spec(), "ephemeralContainers": [{"name": "debug"}]},
     ["allowPrivilegeEscalation", "capabilities_restricted"], (1, 35), {}),
    ("privileged-level", "privileged", spec({"privileged": True}, hostNetwork=True), [], (1, 35), {}),
]


@pytest.mark.parametrize(("level", "pod_spec", "expected", "version", "meta"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_upstream_rules(level: str, pod_spec: dict[str, Any], expected: list[str], version: tuple[int, int],
                        meta: dict[str, Any]) -> None:
    assert ids(level, pod_spec, version, meta) == expected


def test_every_upstream_check_is_exercised_by_a_failing_case() -> None:
    assert len(CHECKS) == 19
    failing = {check for case in CASES for check in case[3]}
    assert failing == {c.id for c in CHECKS}


def test_restricted_runs_baseline_checks_first_and_drops_the_overridden_ones() -> None:
    restricted = [id_ for id_, _ in checks_for(LevelVersion("restricted", (1, 35)))]
    baseline = [id_ for id_, _ in checks_for(LevelVersion("baseline", (1, 35)))]
    assert baseline == sorted(baseline) and len(baseline) == 12
    assert restricted[:8] == [b for b in baseline if b not in
                              ("capabilities_baseline", "hostPathVolumes", "procMount", "seccompProfile_baseline")]
    assert restricted[8:] == sorted(c.id for c in CHECKS if c.level == "restricted")


def test_messages_are_upstreams() -> None:
    [v] = evaluate(LevelVersion("restricted", (1, 35)), {}, spec({"capabilities": {"drop": ["all"], "add": ["SYS_ADMIN"]}}))
    assert v.detail == ('container "app" must set securityContext.capabilities.drop=["ALL"]; container "app" must not '
                        'include "SYS_ADMIN" in securityContext.capabilities.add')
    [v] = evaluate(LevelVersion("restricted", (1, 35)), {}, spec(pod_sc={"runAsNonRoot": False, **POD_SC} | {"runAsNonRoot": False}))
    assert v.detail == "pod must not set securityContext.runAsNonRoot=false"


@pytest.mark.parametrize(("labels", "expected"), [
    ({}, "privileged:v1.35"),
    ({"pod-security.kubernetes.io/enforce": "baseline"}, "baseline:v1.35"),
    ({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.24"},
     "restricted:v1.24"),
    ({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.99"},
     "restricted:v1.35"),
    ({"pod-security.kubernetes.io/enforce": "Restricted"}, "restricted:v1.35"),  # invalid level: fail closed
    ({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "1.24"},
     "baseline:v1.35"),  # invalid version: latest
    ({"pod-security.kubernetes.io/warn": "restricted"}, "privileged:v1.35"),
])
def test_namespace_labels(labels: dict[str, str], expected: str) -> None:
    assert str(policy_from_labels(labels)) == expected


def test_unknown_values_are_never_violations() -> None:
    unknown = spec({"allowPrivilegeEscalation": UNKNOWN, "runAsNonRoot": UNKNOWN, "capabilities": UNKNOWN,
                    "privileged": UNKNOWN}, pod_sc={"seccompProfile": UNKNOWN})
    assert ids("restricted", unknown) == []
    assert ids("restricted", spec({"allowPrivilegeEscalation": None})) == ["allowPrivilegeEscalation"]  # the control


# --- the policy on inventories -----------------------------------------------------------------------------------

POLICY = "mlops-k8s-pod-security-admission"
NS = "kubernetes:core/v1:Namespace"
RELEASE = "kubernetes:helm.sh/v3:Release"


def namespace(name: str, level: str | None, **labels: str) -> R:
    all_labels = {**({"pod-security.kubernetes.io/enforce": level} if level else {}), **labels}
    return R(NS, name, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": all_labels}})


def workload(type_: str, name: str, ns: str, pod_spec: dict[str, Any]) -> R:
    kind = type_.rsplit(":", 1)[-1]
    template = {"metadata": {"labels": {"app": name}}, "spec": pod_spec}
    body = ({"jobTemplate": {"spec": {"template": template}}} if kind == "CronJob"
            else pod_spec if kind == "Pod" else {"template": template})
    return R(type_, name, {"kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": body})


PRIVILEGED = spec({"privileged": True})
POLICY_CASES = [
    Case("admitted", POLICY, [namespace("jobs", "restricted"), workload("kubernetes:core/v1:Pod", "p", "jobs", spec())], []),
    Case("rejected", POLICY, [namespace("jobs", "restricted"),
                              workload("kubernetes:core/v1:Pod", "p", "jobs", spec({"runAsUser": 0}))],
         ['p: Pod jobs/p: namespace jobs enforces Pod Security "restricted:v1.35"; the API server rejects the pod: '
          'runAsUser: container "app" must not set runAsUser=0']),
]


@params(POLICY_CASES)
def test_policy_cases(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("type_", ["kubernetes:core/v1:Pod", "kubernetes:apps/v1:Deployment",
                                   "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
                                   "kubernetes:apps/v1:ReplicaSet", "kubernetes:batch/v1:Job",
                                   "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:ReplicationController",
                                   "kubernetes:batch/v1beta1:CronJob", "kubernetes:extensions/v1beta1:Deployment"])
def test_every_pod_creating_kind_is_judged(type_: str) -> None:
    kind = type_.rsplit(":", 1)[-1]
    who = "the pod" if kind == "Pod" else f"every pod the {kind} creates"
    assert messages(POLICY, [namespace("jobs", "baseline"), workload(type_, "w", "jobs", PRIVILEGED)]) == [
        f'w: {kind} jobs/w: namespace jobs enforces Pod Security "baseline:v1.35"; the API server rejects {who}: '
        'privileged: container "app" must not set securityContext.privileged=true']


def test_the_namespace_decides() -> None:
    deploy = "kubernetes:apps/v1:Deployment"
    assert messages(POLICY, [namespace("jobs", None, team="a"), workload(deploy, "w", "jobs", PRIVILEGED)]) == []
    assert messages(POLICY, [workload(deploy, "w", "elsewhere", PRIVILEGED)]) == []  # not in the stack: not judged
    assert len(messages(POLICY, [workload(deploy, "w", "elsewhere", PRIVILEGED)],
                        config={"namespaceLevels": {"elsewhere": "baseline"}})) == 1
    assert messages(POLICY, [namespace("jobs", "restricted"), workload(deploy, "w", "jobs", spec())]) == []
    unknown = R(NS, "jobs", {"metadata": {"name": "jobs", "labels": "[unknown]"}})
    assert messages(POLICY, [unknown, workload(deploy, "w", "jobs", PRIVILEGED)]) == []


def test_it_is_mandatory_in_dev_too() -> None:
    report = run(POLICY, [namespace("jobs", "restricted"), workload("kubernetes:core/v1:Pod", "p", "jobs", PRIVILEGED)],
                 env="dev")
    assert report.findings and {f.enforcement for f in report.findings} == {"mandatory"}


def test_the_cluster_version_caps_the_policy_version() -> None:
    probe = {"containers": [{"name": "a", "readinessProbe": {"tcpSocket": {"host": "db", "port": 5432}}}]}
    objects = [namespace("jobs", "baseline"), workload("kubernetes:core/v1:Pod", "p", "jobs", probe)]
    assert len(messages(POLICY, objects)) == 1
    assert messages(POLICY, [*objects, R("aws:eks/cluster:Cluster", "eks", {"version": "1.33"})]) == []


def test_a_rendered_object_names_its_release() -> None:
    """A chart's object: a child of its Release, in a namespace the chart itself renders."""
    inv = inventory([R(RELEASE, "airflow", {"chart": "airflow"}), namespace("airflow", "restricted"),
                     workload("kubernetes:apps/v1:Deployment", "airflow-statsd", "airflow",
                              spec({"allowPrivilegeEscalation": None}))])
    release_urn = inv["resources"][0]["urn"]
    for record in inv["resources"][1:]:
        record["parent"], record["options"]["rendered"] = release_urn, True
    [finding] = run_all(inv, environment="prod", only=[POLICY]).findings
    assert finding.message.startswith("Deployment airflow/airflow-statsd (release airflow): namespace airflow enforces "
                                      'Pod Security "restricted:v1.35"; the API server rejects every pod the '
                                      "Deployment creates: allowPrivilegeEscalation: ")
