"""The Apache Airflow chart's values and airflow.cfg settings the platform generates (pure; no Pulumi resources).

Keys checked against chart/values.yaml of the pinned chart (1.19.0, Airflow 3.1.7; see
tests/data/chart-values/airflow-1.19.0.yaml for where it was read). Secrets never appear here: the metadata DB
connection comes from the Secret External Secrets writes (`data.metadataSecretName`), the Fernet, API and JWT keys
from Secrets the component creates from Pulumi secrets (`*SecretName`), the git-sync key from the Secret the
operator delivers (`dags.gitSync.sshKeySecret`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..blocks import pod_security
from .config import AirflowConfig

AIRFLOW_UID = 50000  # the official image's `airflow` user (its files are group 0, so the pod keeps gid 0)
LOG_PREFIX = "logs"
DAGS_PREFIX = "dags"
LOG_CONN_ID = "aws_platform"
"""The Airflow connection remote logging (and S3 DAG bundles) use: `AIRFLOW_CONN_AWS_PLATFORM` in the env, an AWS
connection without keys, so boto3 takes the pod's IRSA web identity."""
RELEASE = "airflow"
STATSD_SCRAPE_PORT = "statsd-scrape"  # the chart's statsd Service port name (ports.statsdScrape, 9102)
SECRET_NAMES = {"metadata": "airflow-metadata", "fernet": "airflow-fernet-key", "api": "airflow-api-secret-key",
                "jwt": "airflow-jwt-secret"}
# Keys the chart reads from those Secrets (chart/templates/secrets/*.yaml: fernet-key, api-secret-key, jwt-secret;
# metadata: `connection`, values.yaml `data.metadataSecretName`).
SECRET_KEYS = {"metadata": "connection", "fernet": "fernet-key", "api": "api-secret-key", "jwt": "jwt-secret"}
ASYNC_CONNECTION_KEY, ASYNC_SSL_QUERY = "async-connection", "ssl=require"
"""`[database] sql_alchemy_conn_async`, a second key of the metadata Secret. Unset, Airflow 3.1.7 derives it from the
sync URL (settings.py `_get_async_conn_uri_from_sync`: `postgresql+asyncpg://...?sslmode=require`), and asyncpg's
connect() takes no `sslmode` (TypeError on the first async session); its form is `ssl=require`."""
# Requests = limits (Guaranteed). The scheduler and API server of Airflow 3 idle at ~400-600 MiB RSS.
CONTROL_COMPONENTS = ("scheduler", "api-server", "dag-processor", "triggerer", "run-airflow-migrations",
                      "airflow-cleanup-pods")
"""`component` labels of the chart's pods that call the Kubernetes API or the database (the cleanup CronJob lists
and deletes finished task pods)."""
DB_WORKLOADS = ("scheduler", "dag-processor", "triggerer", "api-server")
"""The chart's long-running workloads (`<release>-<component>` Deployments; the triggerer a StatefulSet with log
persistence) whose Airflow containers read the metadata connection (chart/templates/_helpers.yaml
`standard_airflow_environment`); task pods, the migration Job and the cleanup CronJob start fresh each time."""
GIT_SYNC_COMPONENTS = ("dag-processor", "triggerer", "worker")
"""Pods git-sync runs in with a dag-processor (Airflow 3): its sidecar, and the init container of task pods."""
STATSD_UID = 65534  # `nobody` in quay.io/prometheus/busybox, the USER of the statsd-exporter image (its Dockerfile)
TMP_VOLUME, TMP_SIZE = "tmp", "1Gi"
RESOURCES = {"scheduler": ("1", "2Gi"), "apiServer": ("500m", "2Gi"), "dagProcessor": ("500m", "1Gi"),
             "triggerer": ("250m", "1Gi"), "statsd": ("100m", "128Mi"), "workers": ("1", "2Gi"),
             "migrateDatabaseJob": ("500m", "1Gi")}

LOG_GROOMER_RESOURCES = ("50m", "64Mi")
"""The chart's `logGroomerSidecar` (`bash /clean-logs`, the image's scripts/docker/clean-logs.sh: `find` removes
`*.log` files older than the retention under /opt/airflow/logs, then it sleeps 15 min) in the scheduler,
dag-processor and triggerer pods; the chart sets no resources (values.yaml `<component>.logGroomerSidecar.resources:
{}`). Kept rather than disabled: task logs go to S3, but the scheduler's,
dag-processor's and triggerer's own log files stay in the `logs` emptyDir, which only the groomer trims. Sized
from what it runs (bash and find), not measured here."""
LOG_GROOMER_COMPONENTS = ("scheduler", "dagProcessor", "triggerer")
MIGRATION_JOB_TTL_SECONDS = 60
"""`migrateDatabaseJob.ttlSecondsAfterFinished` (chart default 300). With `useHelmHooks: false` the Job is an
ordinary release object with a fixed name (`<release>-run-airflow-migrations`, no revision suffix, no
`helm.sh/hook-delete-policy`): an upgrade that changes its pod template (a new image) patches it, and Kubernetes
refuses a patch of a Job's template. Once the TTL controller has deleted the finished Job, Helm's upgrade (and an
atomic rollback) finds it absent and creates it anew. So the shorter the TTL, the shorter the window in which a
second upgrade fails on the old Job. A failing migration keeps its Job running (restartPolicy OnFailure,
backoffLimit 6: about ten minutes of back-off), so the TTL starts only after that; read its log while it retries
(`kubectl -n airflow logs job/airflow-run-airflow-migrations`): after a failed upgrade, `cleanup_on_fail` deletes it."""

CLEANUP_MEMORY = "512Mi"  # the cleanup CronJob measured 241 MiB RSS: 256Mi left 8% headroom
COLD_START_SECONDS = 3600
"""How long a queued task may wait for its pod to start: a GPU step on a scale-from-zero pool waits for the node
(p5/g6 launch, driver and device plugin ready) and a multi-GB image pull."""


@dataclass(frozen=True)
class AirflowInputs:
    """What the values need that the config does not hold (names and addresses the component created)."""

    region: str
    log_bucket: Any
    """Bucket name (an Output in the component, a str in tests)."""
    worker_service_account: str
    api_server_service_account: str
    dag_processor_service_account: str
    triggerer_service_account: str = "airflow-triggerer"
    env: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    """Platform env for every Airflow container (MLflow, feature server, GPU placement)."""
    secret_env: Sequence[Mapping[str, str]] = field(default_factory=tuple)
    """The chart's `secret` entries (`envName`, `secretName`, `secretKey`): env from a Secret in every Airflow
    container and the KubernetesExecutor's task pods (chart `custom_airflow_environment`). Default: none."""


def aws_connection(region: str) -> str:
    """`AIRFLOW_CONN_AWS_PLATFORM`: an AWS connection (JSON form, Airflow >= 2.3) with a region and no keys."""
    return json.dumps({"conn_type": "aws", "extra": {"region_name": region}})


def remote_logging_config(log_folder: Any) -> dict[str, Any]:
    """`[logging]` of airflow.cfg: task logs to S3 through the connection above (Airflow 3.1 config names:
    remote_logging, remote_base_log_folder, remote_log_conn_id, delete_local_logs, encrypt_s3_logs)."""
    return {"remote_logging": "True", "remote_base_log_folder": log_folder, "remote_log_conn_id": LOG_CONN_ID,
            # The bucket encrypts with its KMS key by default; S3 SSE-S3 headers would override it.
            "encrypt_s3_logs": "False", "delete_local_logs": "True"}


def scale_from_zero_timeouts() -> dict[str, Any]:
    """airflow.cfg sections (Airflow 3.1.7 config_templates/config.yml, both default 600 s) a task outlives while its
    pod waits for a GPU node: `[scheduler] task_queued_timeout` fails a task queued longer than that, and
    `[execution_api] jwt_expiration_time` is the life of the token the executor issues the task at queue time, so a
    pod that starts after it cannot call the Execution API (executors/base_executor.py:152; a running task gets
    its token re-issued, execution_api/app.py JWTReissueMiddleware)."""
    return {"scheduler": {"task_queued_timeout": str(float(COLD_START_SECONDS))},
            "execution_api": {"jwt_expiration_time": str(COLD_START_SECONDS)}}


def _security(values: dict[str, Any]) -> dict[str, Any]:
    """Pod and container security contexts for every pod the chart renders, and the writable paths of the
    read-only root.

    How chart/templates read them (apache/airflow chart/templates/_helpers.yaml; see tests/pipelines/airflow_chart.py):
    - Airflow's own pods (scheduler, dag-processor, triggerer, api-server, migrate and cleanup jobs, the worker pod
      template) take `airflowPodSecurityContext` (<component>.securityContexts.pod, else the global
      `securityContexts.pod`) and `containerSecurityContext` (<component>.securityContexts.container, else the
      global `securityContexts.containers`): the globals below cover them;
    - statsd reads only its own: `localPodSecurityContext .Values.statsd` (else `runAsUser: <statsd.uid>`: no
      runAsNonRoot, no seccomp) and `externalContainerSecurityContext .Values.statsd`;
    - git-sync reads only `localContainerSecurityContext .Values.dags.gitSync` (else `runAsUser: <uid>`: privilege
      escalation allowed, capabilities kept), in every pod it joins (see `dags_values`).
    Every Airflow container mounts the global `volumes`/`volumeMounts`: an emptyDir at /tmp, where Airflow 3.1
    writes (`tempfile.gettempdir()`: DAG bundles, the S3 bundle's download). /opt/airflow/logs is the chart's own
    `logs` emptyDir; airflow.cfg is mounted read-only from the ConfigMap."""
    pod = {"runAsNonRoot": True, "runAsUser": AIRFLOW_UID, "runAsGroup": 0, "fsGroup": 0,
           "seccompProfile": {"type": "RuntimeDefault"}}
    container = pod_security.helm_container_security_context()
    statsd_pod = {"runAsNonRoot": True, "runAsUser": STATSD_UID, "runAsGroup": STATSD_UID,
                  "seccompProfile": {"type": "RuntimeDefault"}}
    return {**values, "securityContexts": {"pod": pod, "containers": container},
            "statsd": {**values.get("statsd", {}), "securityContexts": {"pod": statsd_pod, "container": container}},
            "volumes": [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": TMP_SIZE}}],
            "volumeMounts": [{"name": TMP_VOLUME, "mountPath": "/tmp"}]}


def git_sync_security_context() -> dict[str, Any]:
    """git-sync's container context: restricted, but not a read-only root. The git-sync image (kubernetes/git-sync
    Dockerfile.in) keeps HOME=/tmp on its root filesystem and makes /etc/passwd writable for `--add-user`, which the
    chart always sets (GITSYNC_ADD_USER=true) and which appends the pod's uid (50000, not the image's 65533)."""
    return {**pod_security.helm_container_security_context(), "readOnlyRootFilesystem": False}


def dags_values(cfg: AirflowConfig, bucket: Any) -> dict[str, Any]:
    """git-sync (SSH key from a Secret, never a value) or an S3 DAG bundle (airflow.providers.amazon S3DagBundle)."""
    dags = cfg.dags
    if dags.source == "gitSync":
        sync: dict[str, Any] = {"enabled": True, "repo": dags.git_repo, "branch": dags.git_branch,
                                "ref": dags.git_branch, "subPath": dags.git_sub_path,
                                "sshKeySecret": dags.git_ssh_key_secret,
                                "period": f"{dags.sync_interval_seconds}s",
                                "resources": pod_security.helm_resources("50m", "128Mi"),
                                "knownHosts": dags.git_known_hosts,  # required (config): the host key is checked
                                "securityContexts": {"container": git_sync_security_context()}}
        return {"dags": {"gitSync": sync}}
    bundle = {"name": "platform-s3", "classpath": "airflow.providers.amazon.aws.bundles.s3.S3DagBundle",
              "kwargs": {"aws_conn_id": LOG_CONN_ID, "bucket_name": bucket, "prefix": dags.s3_prefix,
                         "refresh_interval": dags.sync_interval_seconds}}
    return {"dagProcessor": {"dagBundleConfigList": [bundle]}}


def ingress_values(cfg: AirflowConfig) -> dict[str, Any]:
    ui = cfg.ui
    if not ui.ingress:
        return {}
    annotations = {
        "alb.ingress.kubernetes.io/scheme": "internal" if ui.internal else "internet-facing",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": 443}]),
        "alb.ingress.kubernetes.io/certificate-arn": ui.certificate_arn or "",
        "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "alb.ingress.kubernetes.io/healthcheck-path": "/api/v2/monitor/health",
    }
    return {"ingress": {"apiServer": {"enabled": True, "ingressClassName": "alb", "annotations": annotations,
                                      "path": "/", "pathType": "Prefix", "hosts": [{"name": ui.host}]}}}


def async_connection_env() -> list[dict[str, Any]]:
    """The async metadata URL from the metadata Secret, for the API server and the scheduler (their `env`)."""
    ref = {"name": SECRET_NAMES["metadata"], "key": ASYNC_CONNECTION_KEY}
    return [{"name": "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC", "valueFrom": {"secretKeyRef": ref}}]


def _component(key: str, sa: str | None = None, **extra: Any) -> dict[str, Any]:
    cpu, mem = RESOURCES[key]
    out: dict[str, Any] = {"resources": pod_security.helm_resources(cpu, mem), **extra}
    if sa is not None:
        out["serviceAccount"] = {"create": False, "name": sa}
    return out


def migration_job_values() -> dict[str, Any]:
    """`migrateDatabaseJob`: an ordinary Job of the release, not a Helm hook. The chart's default
    (`useHelmHooks: true`) makes it a post-install/post-upgrade hook (apache/airflow
    chart/templates/jobs/migrate-database-job.yaml), which Helm runs only after `--wait` has seen every Deployment
    ready; ours waits (blocks/helm.py: atomic, no skipAwait), and every Airflow pod's `wait-for-airflow-migrations`
    init container waits for that migration, so a first install would deadlock until the release's timeout and roll
    back. The chart's docs say so: with `--wait`, set `useHelmHooks: false`. The Job then starts with the pods and
    their init containers finish once it has migrated the schema. TTL: `MIGRATION_JOB_TTL_SECONDS`."""
    # applyCustomEnv false: the Job takes only the chart's own env (the metadata connection from
    # data.metadataSecretName, the Fernet key), not the platform's `env`/`secret`, so its pod template changes only
    # with the image, and a change of the platform's env never patches (and fails on) an existing Job.
    return {**_component("migrateDatabaseJob"), "useHelmHooks": False, "applyCustomEnv": False,
            "ttlSecondsAfterFinished": MIGRATION_JOB_TTL_SECONDS}


def log_groomer_values() -> dict[str, Any]:
    """`<component>.logGroomerSidecar`: resources (`LOG_GROOMER_RESOURCES`); its security context is the global
    container context (`_security`)."""
    return {"resources": pod_security.helm_resources(*LOG_GROOMER_RESOURCES)}


def chart_values(cfg: AirflowConfig, inputs: AirflowInputs, log_folder: Any) -> dict[str, Any]:
    """Helm values of the Airflow release (KubernetesExecutor, external Postgres, remote logs, statsd)."""
    repo, _, tag = cfg.image.rpartition(":")
    env = [*inputs.env, {"name": "AIRFLOW_CONN_AWS_PLATFORM", "value": aws_connection(inputs.region)}]
    values: dict[str, Any] = {
        "defaultAirflowRepository": repo, "defaultAirflowTag": tag, "airflowVersion": tag,
        "executor": "KubernetesExecutor",
        "postgresql": {"enabled": False}, "redis": {"enabled": False}, "pgbouncer": {"enabled": False},
        "data": {"metadataSecretName": SECRET_NAMES["metadata"]},
        "fernetKeySecretName": SECRET_NAMES["fernet"], "apiSecretKeySecretName": SECRET_NAMES["api"],
        "jwtSecretName": SECRET_NAMES["jwt"],
        "createUserJob": {"enabled": False},  # its default admin/admin user: people sign in through FAB users
        "migrateDatabaseJob": migration_job_values(),
        "networkPolicies": {"enabled": False},  # the platform's own egress policies (wiring_common)
        "env": env,
        **({"secret": [dict(e) for e in inputs.secret_env]} if inputs.secret_env else {}),
        "scheduler": _component("scheduler", replicas=cfg.scheduler_replicas, env=async_connection_env(),
                                logGroomerSidecar=log_groomer_values()),
        "apiServer": _component("apiServer", inputs.api_server_service_account, replicas=cfg.api_server_replicas,
                                service={"type": "ClusterIP"}, env=async_connection_env()),
        "dagProcessor": _component("dagProcessor", inputs.dag_processor_service_account,
                                   logGroomerSidecar=log_groomer_values()),
        "triggerer": _component("triggerer", inputs.triggerer_service_account, persistence={"enabled": False},  # logs go to S3, no PVC
                                logGroomerSidecar=log_groomer_values()),
        "workers": _component("workers", inputs.worker_service_account),
        "statsd": _component("statsd", enabled=True),
        "cleanup": {"enabled": True, "resources": pod_security.helm_resources("100m", CLEANUP_MEMORY)},
        "config": {"logging": remote_logging_config(log_folder),
                   "core": {"remote_logging": "True"},  # the chart's `core` default repeats it (Airflow 1.10)
                   **scale_from_zero_timeouts(),
                   "kubernetes_executor": {"delete_worker_pods": "True", "delete_worker_pods_on_failure": "False"}},
    }
    values = _security(values)
    for part in (dags_values(cfg, inputs.log_bucket), ingress_values(cfg)):
        for key, value in part.items():
            values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return values
