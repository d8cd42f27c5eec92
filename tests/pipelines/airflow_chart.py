"""The pods the Apache Airflow chart renders from our values, assembled as its templates assemble them.

The chart (1.19.0) is not in the chart store, so nothing renders it here. This module reproduces, for the pods our
values produce (Airflow 3, KubernetesExecutor, a dag-processor, statsd, the cleanup CronJob), the parts of
chart/templates that decide Pod Security and writable paths. Read in apache/airflow through the code index (the
helm-chart/1.19.0 tag itself could not be selected there; these helpers have the same logic in every version read:
chart/templates/_helpers.yaml at 002843d6 (chart 1.1x) and at Miretpl/airflow 1e2f0a27 (after 1.19.0)):

- `airflowPodSecurityContext` (list <component> .Values): the first of <component>.securityContexts.pod,
  <component>.securityContext, securityContexts.pod, securityContext; else `runAsUser: uid, fsGroup: gid`;
- `containerSecurityContext` (list <component> .Values): <component>.securityContexts.container, else
  securityContexts.containers, else `allowPrivilegeEscalation: false, capabilities.drop: [ALL]`;
- `localPodSecurityContext` / `localContainerSecurityContext` <node>: <node>.securityContexts.pod|container, else
  <node>.securityContext, else `runAsUser: <node>.uid`; `externalContainerSecurityContext` <node>:
  <node>.securityContexts.container, else `allowPrivilegeEscalation: false, capabilities.drop: [ALL]`;
- statsd/statsd-deployment.yaml: localPodSecurityContext + externalContainerSecurityContext of `.Values.statsd`;
- `git_sync_container`: localContainerSecurityContext of `.Values.dags.gitSync`, mounts `dags` at /git; in the
  dag-processor (sidecar + init), the triggerer (sidecar + init) and the worker pod template
  (files/pod-template-file.kubernetes-helm-yaml, init); the scheduler only without a dag-processor;
- every Airflow container mounts `.Values.volumeMounts` (pods get `.Values.volumes`); the scheduler, dag-processor,
  triggerer and task pods mount the `logs` emptyDir at /opt/airflow/logs (the api-server only with log
  persistence); airflow.cfg is a read-only subPath mount of the `config` ConfigMap; waitForMigrations init
  containers read `<component>.waitForMigrations` first;
- the log groomer sidecar (`<component>-log-groomer`, e.g. dag-processor/dag-processor-deployment.yaml at
  apache/airflow 01d5bb62), when `<component>.logGroomerSidecar.enabled`: its own container security context
  (`<component>.logGroomerSidecar.securityContexts.container`, else the global one),
  `<component>.logGroomerSidecar.resources`, and mounts `logs` plus the global `volumeMounts`;
- jobs/migrate-database-job.yaml (Miretpl/airflow 5aa88811, apache/airflow 058b846c): the Job
  `<release>-run-airflow-migrations` carries `helm.sh/hook`, `hook-weight` and `hook-delete-policy` annotations only
  when `migrateDatabaseJob.useHelmHooks` (values.yaml default true; the hook phases differ between those two
  versions: post-install/post-upgrade in the latter, pre-install/pre-upgrade in the former), merged with
  `jobAnnotations`; `ttlSecondsAfterFinished` when set (default 300). Its name has no revision suffix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AIRFLOW_HOME = "/opt/airflow"
LOGS = f"{AIRFLOW_HOME}/logs"
CHART_DEFAULT_UID = 50000  # values.yaml `uid`; only reached when our values set no pod context
DEFAULT_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _get(d: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(d, Mapping):
            return None
        d = d.get(key)  # type: ignore[assignment]
    return d


def airflow_pod_sc(values: Mapping[str, Any], component: str) -> dict[str, Any]:
    for scope in (values.get(component) or {}, values):
        if _get(scope, "securityContexts", "pod"):
            return dict(scope["securityContexts"]["pod"])
        if scope.get("securityContext"):
            return dict(scope["securityContext"])
    return {"runAsUser": values.get("uid", CHART_DEFAULT_UID), "fsGroup": values.get("gid", 0)}


def container_sc(values: Mapping[str, Any], *scope: str) -> dict[str, Any]:
    local = _get(values, *scope, "securityContexts", "container")
    if local:
        return dict(local)
    return dict(_get(values, "securityContexts", "containers") or DEFAULT_CONTAINER)


def local_sc(node: Mapping[str, Any], kind: str, default_uid: int) -> dict[str, Any]:
    if _get(node, "securityContexts", kind):
        return dict(node["securityContexts"][kind])
    if node.get("securityContext"):
        return dict(node["securityContext"])
    return {"runAsUser": node.get("uid", default_uid)}


def _airflow_container(values: Mapping[str, Any], name: str, *scope: str, logs: bool = True) -> dict[str, Any]:
    mounts = [{"name": "config", "mountPath": f"{AIRFLOW_HOME}/airflow.cfg", "subPath": "airflow.cfg",
               "readOnly": True}, *(values.get("volumeMounts") or [])]
    if logs:
        mounts.append({"name": "logs", "mountPath": LOGS})
    return {"name": name, "securityContext": container_sc(values, *scope), "volumeMounts": mounts}


def _log_groomer(values: Mapping[str, Any], component: str, main: str) -> dict[str, Any]:
    node = _get(values, component, "logGroomerSidecar") or {}
    return {"name": f"{main}-log-groomer", "securityContext": container_sc(values, component, "logGroomerSidecar"),
            "resources": dict(node.get("resources") or {}),
            "volumeMounts": [{"name": "logs", "mountPath": LOGS}, *(values.get("volumeMounts") or [])]}


def _git_sync(values: Mapping[str, Any], init: bool) -> dict[str, Any]:
    node = _get(values, "dags", "gitSync") or {}
    name = node.get("containerName", "git-sync") + ("-init" if init else "")
    return {"name": name, "securityContext": local_sc(node, "container", 65533),
            "volumeMounts": [{"name": "dags", "mountPath": "/git"}, *(node.get("extraVolumeMounts") or [])]}


def _volumes(values: Mapping[str, Any], git: bool) -> list[dict[str, Any]]:
    out = [{"name": "config", "configMap": {"name": "airflow-config"}}, {"name": "logs", "emptyDir": {}}]
    if git:
        out += [{"name": "dags", "emptyDir": {}},
                {"name": "git-sync-ssh-key", "secret": {"secretName": _get(values, "dags", "gitSync", "sshKeySecret")}}]
    return out + list(values.get("volumes") or [])


def pods(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Pod specs by component, for the values of a KubernetesExecutor release with a dag-processor."""
    git = bool(_get(values, "dags", "gitSync", "enabled"))
    out: dict[str, dict[str, Any]] = {}

    def airflow_pod(component: str, main: str, *, sidecar_git: bool, init_git: bool, wait: bool = True,
                    logs: bool = True, groomer: bool = False) -> dict[str, Any]:
        init = [_airflow_container(values, "wait-for-airflow-migrations", component, "waitForMigrations")] \
            if wait else []
        init += [_git_sync(values, True)] if init_git else []
        containers = [_airflow_container(values, main, component, logs=logs)]
        containers += [_git_sync(values, False)] if sidecar_git else []
        if groomer and (_get(values, component, "logGroomerSidecar", "enabled") is not False):
            containers.append(_log_groomer(values, component, main))
        return {"securityContext": airflow_pod_sc(values, component), "initContainers": init,
                "containers": containers, "volumes": _volumes(values, git)}

    out["scheduler"] = airflow_pod("scheduler", "scheduler", sidecar_git=False, init_git=False, groomer=True)
    out["dag-processor"] = airflow_pod("dagProcessor", "dag-processor", sidecar_git=git, init_git=git, groomer=True)
    out["triggerer"] = airflow_pod("triggerer", "triggerer", sidecar_git=git, init_git=git, groomer=True)
    out["api-server"] = airflow_pod("apiServer", "api-server", sidecar_git=False, init_git=False, logs=False)
    out["worker"] = airflow_pod("workers", "base", sidecar_git=False, init_git=git, wait=False)
    out["run-airflow-migrations"] = airflow_pod("migrateDatabaseJob", "run-airflow-migrations", sidecar_git=False,
                                                init_git=False, wait=False, logs=False)
    if _get(values, "cleanup", "enabled"):
        out["airflow-cleanup-pods"] = airflow_pod("cleanup", "airflow-cleanup-pods", sidecar_git=False,
                                                  init_git=False, wait=False, logs=False)
    statsd = values.get("statsd") or {}
    if statsd.get("enabled", True):
        external = dict(_get(statsd, "securityContexts", "container") or DEFAULT_CONTAINER)
        out["statsd"] = {"securityContext": local_sc(statsd, "pod", 65534),
                         "containers": [{"name": "statsd", "securityContext": external, "volumeMounts": [
                             {"name": "config", "mountPath": "/etc/statsd-exporter/mappings.yml",
                              "subPath": "mappings.yml"}]}],
                         "volumes": [{"name": "config", "configMap": {"name": "airflow-statsd"}}]}
    return out


def writable_paths(pod: Mapping[str, Any], container: str) -> list[str]:
    """Where `container` can write with a read-only root: its mounts of emptyDir volumes."""
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    (c,) = [c for c in [*pod.get("initContainers", []), *pod["containers"]] if c["name"] == container]
    return sorted(m["mountPath"] for m in c["volumeMounts"] if m["name"] in empty and not m.get("readOnly"))


def migration_job(values: Mapping[str, Any], release: str = "airflow") -> dict[str, Any]:
    """The migration Job's metadata and spec fields the install order depends on (the hook annotations, the TTL)."""
    job = values.get("migrateDatabaseJob") or {}
    annotations: dict[str, str] = {}
    if job.get("useHelmHooks", True):
        annotations = {"helm.sh/hook": "post-install,post-upgrade", "helm.sh/hook-weight": "1",
                       "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}
    annotations |= dict(job.get("jobAnnotations") or {})
    spec: dict[str, Any] = {}
    if job.get("ttlSecondsAfterFinished", 300) is not None:
        spec["ttlSecondsAfterFinished"] = job.get("ttlSecondsAfterFinished", 300)
    return {"metadata": {"name": f"{release}-run-airflow-migrations", "annotations": annotations}, "spec": spec}


WAITED_KINDS = ("scheduler", "dag-processor", "triggerer", "api-server", "statsd")
"""Pods of the Deployments/StatefulSets `helm install --wait` waits to be ready (the chart's long-running workloads;
task pods, Jobs and CronJobs are not waited for without `--wait-for-jobs`)."""


def first_install_becomes_ready(values: Mapping[str, Any]) -> bool:
    """Helm's install with `--wait` (pkg/action/install.go): the release's ordinary objects are created, then Helm
    waits for the workloads to be ready, and only then runs post-install hooks; a pre-install hook runs before the
    ConfigMap its pod mounts exists. A pod with a `wait-for-airflow-migrations` init container is ready only once
    the migration Job has run, so the install completes only when that Job is one of the ordinary objects."""
    rendered = pods(values)
    waiting = [k for k in WAITED_KINDS if k in rendered and any(
        c["name"] == "wait-for-airflow-migrations" for c in rendered[k].get("initContainers", []))]
    job_is_ordinary = "helm.sh/hook" not in migration_job(values)["metadata"]["annotations"]
    return job_is_ordinary or not waiting
