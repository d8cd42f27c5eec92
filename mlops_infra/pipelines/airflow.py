"""Airflow: the official Apache Airflow chart with the KubernetesExecutor, on the platform's blocks.

- metadata database: the Postgres block; External Secrets templates the SQLAlchemy URL from the RDS-managed
  password into `airflow-metadata` (`data.metadataSecretName`), so no password is in values, config or state;
- task logs: `s3://<airflow bucket>/logs` (hardened bucket, platform KMS key) written by the task pods' IRSA role,
  read by the API server's role;
- DAGs: git-sync over SSH (key from a Secret) or the bucket's `dags/` prefix (Airflow 3 S3 DAG bundle);
- task pods: the executor ServiceAccount of the shared wiring (feature-store read, model-artifact write, the MLflow
  and feature-server env, the namespace egress policy); GPU steps add the pool's node selector and tolerations
  from `MLOPS_GPU_NODE_SELECTOR` / `MLOPS_GPU_TOLERATIONS` (JSON) through `executor_config` (pod_override);
- the API server (UI) is a ClusterIP Service, or an internal ALB with TLS; StatsD metrics scraped by a
  ServiceMonitor, with rules on scheduler heartbeat, task failures and DAG processing lag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule
from ..blocks.helm import RELEASE_NAMES_CONFIG, PinnedChart, release
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.namespace import PodSecurityLevel
from ..blocks.naming import child, child_options
from ..blocks.observability import ScrapeEndpoint, prometheus_rule, service_monitor
from . import airflow_values as av
from .airflow_metrics import rule_groups
from .config import AirflowConfig, AirflowDagsConfig
from .engine_checks import engine_problems, refuse
from .refs import EngineRefs
from .wiring_common import (
    EngineWiring,
    EngineWiringArgs,
    control_plane_egress,
    engine_namespace,
    gpu_scheduling,
    metadata_database,
    postgres_url,
)

CHART = "airflow"
CHART_REPO = "https://airflow.apache.org"
API_SERVER_PORT = 8080  # values.yaml ports.apiServer
ENGINE = "airflow"
"""Short engine name: labels, the namespace's child name."""
CONFIG_PATH = "orchestration.airflow"
"""Where a stack's `mlops:platform` configures it (named in the engine's refusals)."""
POD_SECURITY: PodSecurityLevel = "restricted"
GPU_NODE_SELECTOR_ENV = "MLOPS_GPU_NODE_SELECTOR"
GPU_TOLERATIONS_ENV = "MLOPS_GPU_TOLERATIONS"


@dataclass(frozen=True)
class AirflowArgs:
    config: AirflowConfig
    refs: EngineRefs
    """What Airflow runs on and its pods call (cluster, network, key, grants, monitoring, endpoints)."""


class Airflow(pulumi.ComponentResource):
    """Apache Airflow (official chart, KubernetesExecutor) with its bucket, database and identity, on an existing
    cluster."""
    bucket: HardenedBucket
    """Task logs and DAGs (no exfiltration guard): whoever admits buckets through the S3 endpoint needs it."""
    wiring: EngineWiring
    api_server_url: pulumi.Output[str]

    # long: one straight sequence of children (bucket, identities, database, egress, release, monitoring)
    def __init__(self, name: str, args: AirflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg = args.config
        refuse(name, CONFIG_PATH, engine_problems(args.refs, cfg.namespace, cfg.ui, [child(name, "bucket")]))
        super().__init__("mlops:pipelines:Airflow", name, None, args.refs.cluster.bind(opts))
        refs = args.refs.with_key(self, name)
        provider = refs.cluster.provider
        ns = engine_namespace(child(name, "namespace"), self, refs.cluster, cfg.namespace, ENGINE, level=POD_SECURITY, refs=refs)
        self.bucket = HardenedBucket(child(name, "bucket"), HardenedBucketArgs(
            # Task logs and DAGs, not training data: no exfiltration guard (DAGs are uploaded from outside the VPC);
            # registered as a platform bucket: the S3 endpoint admits it and the trail records its data events.
            kms_key=refs.key, tags=refs.tags, protect=refs.protect,
            lifecycle=[LifecycleRule("expire-task-logs", f"{av.LOG_PREFIX}/", expiration_days=cfg.log_retention_days)]),
            pulumi.ResourceOptions(parent=self))
        dags_read = dag_bundle_statements(self.bucket) if cfg.dags.source == "s3" else []
        self.wiring = EngineWiring(child(name, "wiring"), EngineWiringArgs(
            refs=refs, engine=ENGINE, namespace=ns, service_account="airflow-worker", user=cfg.namespace,
            statements=[*_sids("Logs", self.bucket.write_statements(av.LOG_PREFIX)), *_sids("Dags", dags_read)]),
            pulumi.ResourceOptions(parent=self))
        # The API server mounts a token: KubernetesExecutor.get_task_log (cncf-kubernetes 10.25.0) lists the task's
        # pod and reads its log while it runs (S3 has the log only once the task ends); `_pod_log_reader` below.
        self.api_identity = WorkloadIdentity(child(name, "api-server"), WorkloadIdentityArgs(
            cluster=refs.cluster.identity, namespace=ns, service_account="airflow-api-server", tags=refs.tags,
            statements=self.bucket.read_statements(av.LOG_PREFIX), automount_token=True),
            pulumi.ResourceOptions(parent=self))
        # Airflow 3.1.7's triggerer uploads trigger logs with remote_log_conn_id (jobs/triggerer_job_runner.py ->
        # sdk/log.py upload): the same write grant on the logs prefix as the task pods.
        self.triggerer_identity = WorkloadIdentity(child(name, "triggerer"), WorkloadIdentityArgs(
            cluster=refs.cluster.identity, namespace=ns, service_account="airflow-triggerer", tags=refs.tags,
            statements=_sids("Logs", self.bucket.write_statements(av.LOG_PREFIX))),
            pulumi.ResourceOptions(parent=self))
        self._pod_log_reader(name, ns, provider)
        self.dag_processor_identity = WorkloadIdentity(child(name, "dag-processor"), WorkloadIdentityArgs(
            cluster=refs.cluster.identity, namespace=ns, service_account="airflow-dag-processor", tags=refs.tags,
            statements=dags_read), pulumi.ResourceOptions(parent=self))
        self.database = metadata_database(
            self, child(name, "db"), refs, config=cfg.database, namespace=ns, db_name="airflow", username="airflow",
            secret_name=av.SECRET_NAMES["metadata"], workloads=_db_workloads(), also_watch=self.wiring.env_secrets(),
            template=lambda address, port: {
                av.SECRET_KEYS["metadata"]: postgres_url("postgresql", "airflow", address, port),
                av.ASYNC_CONNECTION_KEY: postgres_url("postgresql+asyncpg", "airflow", address, port,
                                                      query=av.ASYNC_SSL_QUERY)})
        secrets = self._app_secrets(name, ns, provider)
        # The cleanup CronJob (`component: airflow-cleanup-pods`) deletes finished task pods through the API.
        control_plane_egress(self, name, refs, namespace=ns, pod_selector={"component": list(av.CONTROL_COMPONENTS)})
        if cfg.dags.source == "gitSync":
            self._git_egress(name, ns, cfg.dags, provider)

        gpu = gpu_scheduling(refs.gpu_pools, cfg.gpu_pool)
        env = [*self.wiring.env_vars(), {"name": GPU_NODE_SELECTOR_ENV, "value": json.dumps(gpu.node_selector)},
               {"name": GPU_TOLERATIONS_ENV, "value": json.dumps(gpu.tolerations)}]
        log_folder = pulumi.Output.format("s3://{0}/{1}", self.bucket.bucket_name, av.LOG_PREFIX)
        inputs = av.AirflowInputs(region=refs.region, log_bucket=self.bucket.bucket_name,
                                  worker_service_account="airflow-worker",
                                  api_server_service_account="airflow-api-server",
                                  dag_processor_service_account="airflow-dag-processor",
                                  triggerer_service_account="airflow-triggerer", env=env,  # type: ignore[arg-type]
                                  secret_env=self.wiring.mlflow_secret_env())
        self.release = release(
            child(name, "release"), PinnedChart(CHART, CHART_REPO, cfg.chart_version), parent=self, namespace=ns,
            values=av.chart_values(cfg, inputs, log_folder), timeout_seconds=900,
            # The metadata DB and the Secret External Secrets templates from its password exist before the atomic
            # install starts its wait (a Multi-AZ instance takes longer than the release's timeout).
            depends_on=[self.wiring, self.api_identity, self.dag_processor_identity, self.triggerer_identity, *secrets,
                        self.database.db.instance, *self.database.external_secrets,
                        *([*refs.cluster.ingress_dependencies] if cfg.ui.ingress else [])])
        # The release's actual name (mlops:helmReleaseNames `generated` sends none): `airflow.fullname` is the release
        # name whenever it contains "airflow", as a generated `<resource name>-<hex>` does (chart _helpers.yaml).
        release_name = self.release.name
        if refs.monitoring is not None:
            service_monitor(self, child(name, "statsd"), refs.monitoring, object_name="airflow-statsd", namespace=ns,
                            match_labels={"component": "statsd",
                                          "release": release_name},  # type: ignore[dict-item]
                            endpoints=[ScrapeEndpoint(av.STATSD_SCRAPE_PORT)], depends_on=[self.release],
                            provider=provider)
            prometheus_rule(self, child(name, "alerts"), refs.monitoring, object_name="airflow", namespace=ns,
                            groups=rule_groups(cfg.namespace), provider=provider)
        self.api_server_url = pulumi.Output.format("http://{0}-api-server.{1}.svc.cluster.local:{2}", release_name, ns,
                                                   API_SERVER_PORT)
        self.register_outputs({"apiServerUrl": self.api_server_url, "logBucket": self.bucket.bucket_name,
                               "workerRoleArn": self.wiring.role_arn})

    def _git_egress(self, name: str, ns: pulumi.Input[str], dags: AirflowDagsConfig,
                    provider: pulumi.ProviderResource | None) -> None:
        """SSH to the git server, from the pods git-sync runs in (`av.GIT_SYNC_COMPONENTS`), and nowhere else."""
        k8s.networking.v1.NetworkPolicy(
            child(name, "git-egress"), metadata={"name": "airflow-git-sync-egress", "namespace": ns},
            spec={"pod_selector": {"match_expressions": [{"key": "component", "operator": "In",
                                                          "values": list(av.GIT_SYNC_COMPONENTS)}]},
                  "policy_types": ["Egress"],
                  "egress": [{"to": [{"ip_block": {"cidr": c}} for c in dags.git_egress_cidrs],
                              "ports": [{"protocol": "TCP", "port": dags.git_ssh_port}]}]},
            opts=child_options(self, provider=provider))

    def _pod_log_reader(self, name: str, ns: pulumi.Input[str], provider: pulumi.ProviderResource | None) -> None:
        """What KubernetesExecutor.get_task_log calls for a running task (cncf-kubernetes 10.25.0): list_namespaced_pod
        (label selector of the task instance), then read_namespaced_pod_log. Nothing else: no create, no delete."""
        meta = {"name": "airflow-api-server-pod-log-reader", "namespace": ns}
        k8s.rbac.v1.Role(child(name, "pod-log-reader"), metadata=meta, rules=[  # type: ignore[call-overload]
            {"api_groups": [""], "resources": ["pods"], "verbs": ["list"]},
            {"api_groups": [""], "resources": ["pods/log"], "verbs": ["get"]}],
            opts=child_options(self, provider=provider))
        k8s.rbac.v1.RoleBinding(  # type: ignore[call-overload]
            child(name, "pod-log-reader-binding"), metadata=meta,
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": meta["name"]},
            subjects=[{"kind": "ServiceAccount", "name": "airflow-api-server", "namespace": ns}],
            opts=child_options(self, provider=provider))

    def _app_secrets(self, name: str, ns: pulumi.Input[str],
                     provider: pulumi.ProviderResource | None) -> list[k8s.core.v1.Secret]:
        """Fernet, API and JWT keys: generated once (Pulumi secrets in state), never Helm values; the chart's own
        would change on every upgrade (randAlphaNum at render time) and sign users out."""
        fernet = random.RandomId(child(name, "fernet-key"), byte_length=32, opts=child_options(self))
        api = random.RandomPassword(child(name, "api-secret-key"), length=48, special=False, opts=child_options(self))
        jwt = random.RandomPassword(child(name, "jwt-secret"), length=64, special=False, opts=child_options(self))
        values = {"fernet": fernet.b64_url.apply(lambda s: s + "="),  # urlsafe base64 of 32 bytes, padded
                  "api": api.result, "jwt": jwt.result}
        return [k8s.core.v1.Secret(
            child(name, f"{kind}-secret"), metadata={"name": av.SECRET_NAMES[kind], "namespace": ns}, type="Opaque",
            string_data={av.SECRET_KEYS[kind]: pulumi.Output.secret(value)},  # type: ignore[arg-type]
            opts=child_options(self, provider=provider)) for kind, value in values.items()]


def dag_bundle_statements(bucket: HardenedBucket) -> list[Any]:
    """What the S3 DAG bundle calls (apache-airflow-providers-amazon 9.39.0, aws/bundles/s3.py `_initialize`):
    HeadBucket (`check_for_bucket`), then `check_for_prefix("dags", "/")`, which lists the level above the prefix
    (ListObjectsV2 Prefix="" Delimiter="/"), then `sync_to_local_dir` (ListObjectsV2 Prefix="dags/", GetObject).
    So ListBucket on the bucket without an `s3:prefix` condition (HeadBucket carries no prefix, and the first
    listing asks for ""): it shows key names (logs/ included), not contents; objects are read under dags/ only."""
    listing = [s for s in bucket.read_statements() if s["Sid"] == "ListBucket"]
    return [*listing, *(s for s in bucket.read_statements(av.DAGS_PREFIX) if s["Sid"] != "ListBucket")]


def _sids(prefix: str, statements: list[Any]) -> list[Any]:
    """Bucket statements with a prefix on their Sid (one role may hold the log and DAG grants side by side)."""
    return [{**s, "Sid": f"{prefix}{s['Sid']}"} if isinstance(s, dict) and "Sid" in s else s for s in statements]


def _db_workloads() -> list[str]:
    """The release's workloads reading the metadata connection (`av.DB_WORKLOADS`), named `<release>-<component>`
    (chart `airflow.fullname`). With `mlops:helmReleaseNames: generated` the release name is known only after the
    install, so none are named and the restarter may patch any workload of the namespace."""
    if (pulumi.Config("mlops").get(RELEASE_NAMES_CONFIG) or "explicit") != "explicit":
        return []
    return [f"{av.RELEASE}-{component}" for component in av.DB_WORKLOADS]
