"""The schema migration Job the MLflow Deployment waits for.

Without it, every server process (replicas times uvicorn workers) creates the tracking and basic-auth tables of an empty
database at the same time: one loses the race with `IntegrityError ... alembic_version_auth` and uvicorn restarts
it (observed on MLflow 3.14.0, review item 5). One Job runs both migrations first, so the servers find the schema at
head: MLflow 3.14.0 `mlflow db upgrade` (mlflow/db.py: creates the tables of an empty database, else upgrades) and
the auth database's alembic upgrade (mlflow/server/auth/db/cli.py `upgrade`: `utils.migrate(engine, "head")`,
version table `alembic_version_auth`); the server's own `migrate_if_needed` then finds the head and does nothing.
It reruns when its spec changes (image, database), i.e. on every MLflow upgrade.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import pod_security
from ..blocks.naming import child, child_options, truncate_name

MIGRATE_SCRIPT = """
import os, subprocess, sys
uri = os.environ["MLFLOW_BACKEND_STORE_URI"]
steps = [["mlflow", "db", "upgrade", uri]]
if os.environ.get("MLFLOW_MIGRATE_AUTH") == "true":
    steps.append([sys.executable, "-m", "mlflow.server.auth", "db", "upgrade", "--url", uri])
for step in steps:
    print("running", " ".join(step[:-1]), flush=True)
    subprocess.run(step, check=True)
print("migrated", flush=True)
""".strip()

MIGRATE_RESOURCES = ("100m", "384Mi")
"""A separate pod (outside the server's measured memory): peak RSS measured at ~245 MiB per step (MLflow 3.14.0,
empty and migrated local Postgres 15, `/usr/bin/time -v`), x 1.5. CPU is not latency-critical (about 10 s of one
core for an empty database); it runs once, before the server's pods exist."""


def migration_job(name: str, parent: pulumi.Resource, *, namespace: pulumi.Input[str], k8s_name: str, image: str,
                  service_account: pulumi.Input[str], backend_uri: pulumi.Input[str], auth: bool,
                  credentials: k8s.core.v1.ContainerArgsDict, volumes: list[k8s.core.v1.VolumeArgsDict],
                  mounts: list[k8s.core.v1.VolumeMountArgsDict],
                  db_env: list[k8s.core.v1.EnvVarArgsDict]) -> k8s.batch.v1.Job:
    """The Job `<name>-migrate` (with `auth`, the basic-auth tables too). The server's credentials sidecar (native:
    the Job completes when the migration exits) writes the password file libpq reads, with the server's identity;
    `volumes`/`mounts` are the ones it shares with the migration (`/tmp`, the password file), `db_env` the
    server's libpq settings (PGPASSFILE, HOME)."""
    labels = {"app.kubernetes.io/name": "mlflow-migrate", "app.kubernetes.io/instance": k8s_name,
              "app.kubernetes.io/part-of": "mlops-platform"}
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "migrate", "image": image, "command": ["python", "-c", MIGRATE_SCRIPT],
        "env": [{"name": "MLFLOW_BACKEND_STORE_URI", "value": backend_uri},
                {"name": "MLFLOW_MIGRATE_AUTH", "value": "true" if auth else "false"},
                *db_env],
        "resources": pod_security.resources(*MIGRATE_RESOURCES),
        "security_context": pod_security.container_security_context(), "volume_mounts": mounts}
    pod: k8s.core.v1.PodSpecArgsDict = {
        "restart_policy": "Never", "service_account_name": service_account, "automount_service_account_token": False,
        "security_context": pod_security.pod_security_context(), "init_containers": [credentials],
        "containers": [container], "volumes": volumes}
    job_name = truncate_name(f"{k8s_name}-migrate", 63)
    return k8s.batch.v1.Job(
        child(name, "migrate"), opts=child_options(parent),
        # replaceUnready: a Job that failed once (database not reachable yet, ...) is replaced on the next
        # `pulumi up` instead of being awaited again forever (pulumi-kubernetes Job await).
        metadata={"name": job_name, "namespace": namespace, "labels": labels,
                  "annotations": {"pulumi.com/replaceUnready": "true"}},
        spec={"backoff_limit": 4, "active_deadline_seconds": 900,
              "template": {"metadata": {"labels": labels}, "spec": pod}})
