"""Orchestration config: Airflow and Kubeflow Pipelines here; Metaflow and Prefect beside them
(`metaflow_config.py`, `prefect_config.py`). Every engine is off by default; more than one may run in a cluster."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from ..config.base import ConfigModel, Problem
from ..config.database import DatabaseConfig
from ..config.types import AcmCertificateArn, ChartVersion, ImageRef, K8sName
from .metaflow_config import MetaflowConfig
from .prefect_config import PrefectConfig

# The Apache Airflow chart (https://airflow.apache.org, chart/ in apache/airflow) and the Airflow it deploys by
# default (chart/values.yaml `airflowVersion`/`defaultAirflowTag`): 1.19.0 ships Airflow 3.1.7.
AIRFLOW_CHART_VERSION = "1.19.0"
AIRFLOW_VERSION = "3.1.7"
# Kubeflow Pipelines standalone, kustomize manifests at the release tag (kubeflow/pipelines manifests/kustomize).
KFP_VERSION = "2.17.0"
# Kubeflow Pipelines runs on RDS MySQL (pipelines/kfp_database.py says why).
SUPPORTED_MYSQL = ("8.4",)


INGRESS_NEEDS = ("the Ingress has class `alb`, which only the AWS Load Balancer Controller serves, and the cluster "
                 "runs none (set cluster.loadBalancerController: true)")


class UiConfig(ConfigModel):
    """An orchestrator's web UI: a ClusterIP Service (port-forward) by default, or an internal ALB with TLS."""

    ingress: bool = Field(False, description="Expose the UI through an ALB Ingress (class alb: needs "
                          "cluster.loadBalancerController). Default: false (ClusterIP only).")
    host: str | None = Field(None, description="Hostname. Required with ingress.")
    certificate_arn: AcmCertificateArn | None = Field(None, description="ACM certificate (TLS). Required with ingress.")
    internal: bool = Field(True, description="Internal ALB (not internet-facing). Default: true.")

    def problems(self) -> Iterable[Problem]:
        if not self.ingress:
            return
        if not self.host:
            yield "host", "required when ingress is true"
        if not self.certificate_arn:
            yield "certificateArn", "required when ingress is true (TLS is mandatory)"


class AirflowDagsConfig(ConfigModel):
    """Where Airflow reads its DAGs: a git repository (gitSync) or an S3 prefix."""
    source: Literal["gitSync", "s3"] = Field("gitSync", description="Where DAGs come from: gitSync (a git "
                                              "repository over SSH) or s3 (a prefix of the Airflow bucket). "
                                              "Default: gitSync.")
    git_repo: str | None = Field(None, pattern=r"^(ssh://|git@)[\w.@:/~-]+$",
                                 description="SSH URL of the DAG repository (source gitSync). Required with gitSync.")
    git_branch: str = Field("main", description="Branch git-sync follows. Default: main.")
    git_sub_path: str = Field("dags", description="Folder of the repository holding the DAGs. Default: dags.")
    git_ssh_key_secret: K8sName | None = Field(
        None, description="Kubernetes Secret in the Airflow namespace holding the deploy key under `gitSshKey` "
        "(deliver it with securityBaseline.integrationSecrets; never a value). Required with gitSync.")
    git_known_hosts: str | None = Field(
        None, description="known_hosts line(s) of the git server: git-sync verifies its host key against them. "
        "Required with gitSync.")
    git_egress_cidrs: list[str] = Field(
        default_factory=list, description="CIDRs of the git server (e.g. your GitLab's address, or the SSH ranges "
        "your git host publishes): the only addresses the pods running git-sync may reach on the repository's SSH "
        "port. Required with gitSync.")
    s3_prefix: str = Field("dags", description="Prefix of the Airflow bucket synced into the DAG folder (source s3). "
                           "Default: dags.")
    sync_interval_seconds: int = Field(60, ge=10, le=3600, description="Sync period. Default: 60.")

    def source_problems(self) -> Iterable[Problem]:
        """Checked only when Airflow is enabled (a disabled engine needs no DAG source)."""
        if self.source == "gitSync":
            if not self.git_repo:
                yield "gitRepo", "required when source is gitSync"
            if not self.git_ssh_key_secret:
                yield "gitSshKeySecret", "required when source is gitSync (the SSH key comes only from a Secret)"
            if not self.git_known_hosts:
                yield "gitKnownHosts", "required when source is gitSync (without it git-sync accepts any host key)"
            if not self.git_egress_cidrs:
                yield "gitEgressCidrs", "required when source is gitSync (the egress policy admits SSH to it only)"
            for cidr in self.git_egress_cidrs:
                try:
                    ipaddress.ip_network(cidr)
                except ValueError:
                    yield "gitEgressCidrs", f"{cidr!r} is not a CIDR"

    @property
    def git_ssh_port(self) -> int:
        """The repository's SSH port: `ssh://host:PORT/...`, else 22 (scp-like `git@host:path` has no port)."""
        found = re.match(r"^ssh://(?:[^@/]+@)?[^:/]+:(\d+)/", self.git_repo or "")
        return int(found.group(1)) if found else 22


class AirflowConfig(ConfigModel):
    """Apache Airflow (`orchestration.airflow`)."""
    enabled: bool = Field(False, description="Deploy Apache Airflow (official chart, KubernetesExecutor). Default: false.")
    namespace: K8sName = Field("airflow", description="Kubernetes namespace. Default: airflow.")
    chart_version: ChartVersion = Field(AIRFLOW_CHART_VERSION, description=f"Apache Airflow chart version. Default: "
                                        f"{AIRFLOW_CHART_VERSION}.")
    image: ImageRef = Field(f"apache/airflow:{AIRFLOW_VERSION}", description="Airflow image (scheduler, API server, "
                            f"task pods); it needs apache-airflow-providers-amazon and -cncf-kubernetes, which the "
                            f"official image ships. Default: apache/airflow:{AIRFLOW_VERSION}.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="RDS Postgres metadata database.")
    dags: AirflowDagsConfig = Field(default_factory=AirflowDagsConfig, description="DAG source.")
    ui: UiConfig = Field(default_factory=UiConfig, description="API server / UI exposure.")
    gpu_pool: K8sName | None = Field(None, description="GPU pool (gpuPools[].name) task pods may request GPUs on; "
                                     "the pod template gets its tolerations. Default: the first GPU pool.")
    log_retention_days: int = Field(90, ge=1, le=3650, description="Task logs kept in S3 (days). Default: 90.")
    scheduler_replicas: int = Field(1, ge=1, le=5, description="Scheduler replicas. Default: 1 (profile: prod 2).")
    api_server_replicas: int = Field(1, ge=1, le=5, description="API server replicas. Default: 1 (profile: prod 2).")

    def problems(self) -> Iterable[Problem]:
        if self.enabled:
            yield from ((f"dags.{path}", msg) for path, msg in self.dags.source_problems())


class KfpDatabaseConfig(DatabaseConfig):
    """The RDS settings of the shared database config, for MySQL."""

    engine_version: str = Field("8.4", description=f"MySQL major.minor version ({', '.join(SUPPORTED_MYSQL)}). "
                                "Default: 8.4.")

    def problems(self) -> Iterable[Problem]:
        for path, msg in super().problems():
            if path != "engineVersion":
                yield path, msg
        if ".".join(self.engine_version.split(".")[:2]) not in SUPPORTED_MYSQL:
            yield "engineVersion", (f"unsupported MySQL version {self.engine_version!r} "
                                    f"(supported: {', '.join(SUPPORTED_MYSQL)})")


class KfpConfig(ConfigModel):
    """Kubeflow Pipelines (`orchestration.kubeflowPipelines`), standalone with Argo Workflows."""
    enabled: bool = Field(False, description="Deploy Kubeflow Pipelines standalone with Argo Workflows. Default: false.")
    namespace: K8sName = Field("kubeflow", description="Kubernetes namespace (the manifests' cluster-scoped bindings "
                               "name `kubeflow`). Default: kubeflow.")
    version: ChartVersion = Field(KFP_VERSION, description=f"Kubeflow Pipelines release. Default: {KFP_VERSION}.")
    database: KfpDatabaseConfig = Field(default_factory=KfpDatabaseConfig,
                                        description="RDS MySQL (the pipeline and ML Metadata databases).")
    ui: UiConfig = Field(default_factory=UiConfig, description="UI exposure.")
    gpu_pool: K8sName | None = Field(None, description="GPU pool pipeline steps may request GPUs on. "
                                     "Default: the first GPU pool.")
    artifact_retention_days: int = Field(180, ge=1, le=3650, description="Pipeline artifacts kept (days). "
                                         "Default: 180.")

    def problems(self) -> Iterable[Problem]:
        if self.enabled and self.namespace != "kubeflow":
            yield "namespace", "the pinned manifests bind cluster roles to `kubeflow`; only kubeflow is supported"
        if self.version != KFP_VERSION:  # the kustomizations pin their ?ref= to KFP_VERSION (tests/pipelines)
            yield "version", (f"only {KFP_VERSION} is supported (the pinned manifests); "
                              f"{self.version!r} would not be deployed")


class OrchestrationConfig(ConfigModel):
    """The orchestrators (`orchestration`): Airflow, Kubeflow Pipelines, Metaflow and Prefect."""
    airflow: AirflowConfig = Field(default_factory=AirflowConfig, description="Apache Airflow.")
    kubeflow_pipelines: KfpConfig = Field(default_factory=KfpConfig, description="Kubeflow Pipelines.")
    metaflow: MetaflowConfig = Field(default_factory=MetaflowConfig, description="Metaflow.")
    prefect: PrefectConfig = Field(default_factory=PrefectConfig, description="Prefect.")

    @property
    def namespaces(self) -> set[str]:
        """Namespaces the enabled engines create."""
        engines = (self.airflow, self.kubeflow_pipelines, self.metaflow, self.prefect)
        return {e.namespace for e in engines if e.enabled and getattr(e, "namespace", None)}

    def namespace_owners(self) -> list[tuple[str, str]]:
        """(path relative to `orchestration`, namespace) of every enabled engine."""
        engines = (("airflow", self.airflow), ("kubeflowPipelines", self.kubeflow_pipelines),
                   ("metaflow", self.metaflow), ("prefect", self.prefect))
        return [(f"{path}.namespace", e.namespace) for path, e in engines if e.enabled]

    def ingress_problems(self, load_balancer_controller: bool) -> Iterable[Problem]:
        """Paths relative to `orchestration`: a UI's `alb` Ingress needs the AWS Load Balancer Controller (none
        serves it otherwise: it never gets an address, and pulumi-kubernetes waits for one until it times out)."""
        for path, engine in (("airflow", self.airflow), ("kubeflowPipelines", self.kubeflow_pipelines)):
            if engine.enabled and engine.ui.ingress and not load_balancer_controller:
                yield f"{path}.ui.ingress", INGRESS_NEEDS

    def gpu_pool_problems(self, pools: Iterable[str]) -> Iterable[Problem]:
        """Paths relative to `orchestration`: a named GPU pool must exist."""
        known = set(pools)
        for path, engine in (("airflow", self.airflow), ("kubeflowPipelines", self.kubeflow_pipelines)):
            if engine.enabled and engine.gpu_pool and engine.gpu_pool not in known:
                yield f"{path}.gpuPool", f"unknown GPU pool {engine.gpu_pool!r} (known: {', '.join(sorted(known)) or 'none'})"
