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
  containers read `<component>.waitForMigrations` first.
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
                    logs: bool = True) -> dict[str, Any]:
        init = [_airflow_container(values, "wait-for-airflow-migrations", component, "waitForMigrations")] \
            if wait else []
        init += [_git_sync(values, True)] if init_git else []
        containers = [_airflow_container(values, main, component, logs=logs)]
        containers += [_git_sync(values, False)] if sidecar_git else []
        return {"securityContext": airflow_pod_sc(values, component), "initContainers": init,
                "containers": containers, "volumes": _volumes(values, git)}

    out["scheduler"] = airflow_pod("scheduler", "scheduler", sidecar_git=False, init_git=False)
    out["dag-processor"] = airflow_pod("dagProcessor", "dag-processor", sidecar_git=git, init_git=git)
    out["triggerer"] = airflow_pod("triggerer", "triggerer", sidecar_git=git, init_git=git)
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
