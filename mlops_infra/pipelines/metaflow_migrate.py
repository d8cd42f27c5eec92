"""The metadata database's schema migration, as a Job of our own that the metaflow-service release waits for.

The chart (metaflow-service 0.2.2, templates/deployment.yaml) runs the migration as a `db-migrations` init container
when `dbMigrations.runOnStart`, with no securityContext at all (root, a writable root filesystem, the runtime's
default capabilities) and no value to give it one. So the release sets `runOnStart: false` and this Job runs the
same command (`/opt/latest/bin/python3 /root/run_goose.py`, Netflix/metaflow-service v2.4.13: it builds the
Postgres URL from the MF_METADATA_DB_* variables, `sslmode` from MF_METADATA_DB_SSL_MODE, waits up to 30 s for the
database and runs `goose -dir /root/services/migration_service/migration_files/ postgres <url> up`, which skips
applied migrations) in the same image, with the same database env, under the service's hardened context: every
capability dropped, no escalation, a read-only root filesystem (neither run_goose.py nor goose writes a file),
RuntimeDefault seccomp. It still runs as root: the image (the repository's `Dockerfile` at v2.4.13) keeps
run_goose.py and the migrations under /root, WORKDIR /root (the module waiver of metaflow.py).

Ordering: the release depends on the Job, and pulumi-kubernetes awaits a Job's completion, so the service starts
on a migrated schema on install; a new image changes the Job's pod template, which Pulumi replaces (a Job's template
is immutable; the fixed name makes it delete-before-replace) and awaits before it upgrades the release.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import pod_security
from ..blocks.naming import child_options

RUN_GOOSE = ["/opt/latest/bin/python3", "/root/run_goose.py"]
"""The chart's init container command (templates/deployment.yaml), without `--only-if-empty-db`: every start of
the Job applies what is missing."""
COMPONENT = "db-migrations"
MIGRATE_RESOURCES = ("250m", "512Mi")
"""What the chart gave its init container (the service's `resources`): not measured here."""


def root_container_security_context() -> k8s.core.v1.SecurityContextArgsDict:
    """The platform's container context, except non-root (the image runs from /root: metaflow.py's waiver)."""
    ctx = pod_security.container_security_context()
    ctx["run_as_non_root"] = False
    return ctx


def migration_job(name: str, parent: pulumi.Resource, *, namespace: pulumi.Input[str], k8s_name: str, image: str,
                  service_account: str, pod_labels: dict[str, str], db_env: Sequence[k8s.core.v1.EnvVarArgsDict],
                  depends_on: Sequence[pulumi.Resource],
                  provider: pulumi.ProviderResource | None) -> k8s.batch.v1.Job:
    """The Job `k8s_name`: run_goose.py with `db_env`, as `service_account`; its pods carry `pod_labels` (the
    service's name label: the database egress that admits the service admits them; without the chart's instance
    label the Service does not select them)."""
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "migrate", "image": image, "command": RUN_GOOSE, "env": list(db_env),
        "resources": pod_security.resources(*MIGRATE_RESOURCES),
        "security_context": root_container_security_context()}
    pod: k8s.core.v1.PodSpecArgsDict = {
        "restart_policy": "Never", "service_account_name": service_account, "automount_service_account_token": False,
        "security_context": {"seccomp_profile": {"type": "RuntimeDefault"}}, "containers": [container]}
    labels = {**pod_labels, "app.kubernetes.io/component": COMPONENT}
    return k8s.batch.v1.Job(
        name, opts=child_options(parent, provider=provider, depends_on=list(depends_on)),
        # replaceUnready: a Job that failed (database not reachable yet, ...) is replaced on the next `pulumi up`
        # instead of being awaited again (pulumi-kubernetes Job await), as MLflow's migration Job does.
        metadata={"name": k8s_name, "namespace": namespace, "labels": labels,
                  "annotations": {"pulumi.com/replaceUnready": "true"}},
        spec={"backoff_limit": 4, "active_deadline_seconds": 540,  # under Pulumi's 10-minute Job await
              "template": {"metadata": {"labels": labels}, "spec": pod}})
