"""Feast materialization: a CronJob that runs `feast materialize-incremental` up to now, on the configured schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import pod_security
from ..blocks.naming import child, child_options, renamed_type
from .feature_server import FEATURE_STORE_YAML, FeastPod

# `materialize-incremental` needs an end timestamp; the shell supplies "now" in UTC at each run.
ACTIVE_DEADLINE_SECONDS = 3600
STARTING_DEADLINE_SECONDS = 600
COMMAND = f'exec feast -f {FEATURE_STORE_YAML} materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)"'


@dataclass(frozen=True)
class MaterializationArgs:
    schedule: str
    """A 5-field cron expression (validated by the config)."""
    image: str
    cpu: str
    memory: str
    pod: FeastPod
    labels: dict[str, str]
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """What must be ready before the first run: the registry bootstrap Job and the identity. Default: none."""


class Materialization(pulumi.ComponentResource):
    def __init__(self, name: str, args: MaterializationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:features:Materialization", name, None,
                         renamed_type(opts, "mlops:feature_store_materialization:Materialization"))
        pod = args.pod
        labels = {**args.labels, "app.kubernetes.io/name": "feast-materialization", "app.kubernetes.io/instance": name}
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "materialize",
            "image": args.image,
            "command": ["/bin/sh", "-c", COMMAND],
            "env": pod.env(),
            "env_from": pod.env_from(),
            "volume_mounts": pod.mounts(),
            "resources": pod_security.resources(args.cpu, args.memory),
            "security_context": pod_security.container_security_context(),
        }
        spec: k8s.batch.v1.CronJobSpecArgsDict = {
            "schedule": args.schedule,
            "time_zone": "Etc/UTC",
            # A run that overlaps the next would materialize the same interval twice.
            "concurrency_policy": "Forbid",
            "starting_deadline_seconds": STARTING_DEADLINE_SECONDS,
            "successful_jobs_history_limit": 3,
            "failed_jobs_history_limit": 3,
            "job_template": {"spec": {
                "backoff_limit": 2,
                "active_deadline_seconds": ACTIVE_DEADLINE_SECONDS,
                "ttl_seconds_after_finished": 86400,
                "template": {"metadata": {"labels": labels},
                             "spec": {**pod.spec(container), "restart_policy": "Never"}},
            }},
        }
        job = k8s.batch.v1.CronJob(child(name, "cronjob"),
                                   metadata={"name": name, "namespace": pod.namespace, "labels": labels},
                                   spec=spec, opts=child_options(self, depends_on=list(args.depends_on)))
        self.job_name = job.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))
        self.register_outputs({"cronJobName": self.job_name})
