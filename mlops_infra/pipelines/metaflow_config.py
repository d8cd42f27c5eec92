"""Metaflow config: flows on Argo Workflows (the one Kubeflow Pipelines runs), an S3 datastore in a hardened bucket,
the metadata service on the Postgres block, Kubernetes compute on the training pools."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from ..config.base import ConfigModel, Problem
from ..config.database import DatabaseConfig
from ..config.types import ChartVersion, ImageRef, K8sName

# The metadata service chart (outerbounds/metaflow-tools charts/metaflow/charts/metaflow-service, Chart.yaml version
# 0.2.2, appVersion v2.4.13) published in the metaflow-tools chart repository.
METAFLOW_SERVICE_CHART = "metaflow-service"
METAFLOW_SERVICE_REPO = "https://outerbounds.github.io/metaflow-tools"
ARGO_NAMESPACE = "metaflow"
"""The namespace of Metaflow's Argo controller (pipelines/metaflow_argo/kustomization.yaml)."""
METAFLOW_SERVICE_PORT = 8080
"""`service.port` of the chart (values.yaml) and the container port (templates/deployment.yaml)."""


class MetaflowConfig(ConfigModel):
    """Metaflow: the metadata service and the datastore users' flows write to; flows run as Argo workflows."""

    enabled: bool = Field(False, description="Deploy Metaflow's metadata service and datastore. Default: false.")
    namespace: K8sName = Field("metaflow", description="Namespace of the metadata service and of flow pods. "
                               "Default: metaflow.")
    version: str = Field("2.19.39", pattern=r"^\d+\.\d+\.\d+$",
                         description="The Metaflow client version users install (and the integration tests run). "
                         "Default: 2.19.39.")
    service_chart_version: ChartVersion = Field("0.2.2", description="metaflow-service chart version. Default: 0.2.2.")
    service_image: ImageRef = Field(
        "public.ecr.aws/outerbounds/metaflow_metadata_service:v2.4.13",
        description="Metadata service image (the chart's appVersion). Default: "
        "public.ecr.aws/outerbounds/metaflow_metadata_service:v2.4.13.")
    service_replicas: int = Field(2, ge=1, le=10, description="Metadata service replicas. Default: 2.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig,
                                     description="The metadata service's Postgres (RDS) database.")
    scheduler: Literal["argoWorkflows", "none"] = Field(
        "argoWorkflows", description="Where `argo-workflows create` deploys flows: Metaflow's own Argo Workflows "
        "controller in its namespace (needs kubeflowPipelines.enabled, which installs the Argo CRDs), or none "
        "(flows run from a laptop or CI with `--with kubernetes`). Default: argoWorkflows.")
    task_image: ImageRef | None = Field(
        None, description="Default image of `@kubernetes` steps: one with Metaflow's step dependencies baked in "
        "(images/metaflow-step/Dockerfile), since step pods have no internet egress to pip install them. "
        "Required when Metaflow is enabled.")
    task_cpu: str = Field("1", pattern=r"^\d+(\.\d+)?m?$", description="Default CPU of a step. Default: 1.")
    task_memory_mib: int = Field(4096, ge=256, description="Default memory (MiB) of a step. Default: 4096.")
    gpu_pool: K8sName | None = Field(
        None, description="GPU pool (gpuPools[].name) steps run on by default (node selector). Default: none "
        "(steps land on general nodes; every GPU pool's taint is tolerated so `@kubernetes(gpu=...)` steps can "
        "ask for a pool with `node_selector`).")
    datastore_prefix: str = Field("metaflow", pattern=r"^[a-z0-9][a-z0-9/_-]*[a-z0-9]$",
                                  description="Prefix of the datastore in the bucket. Default: metaflow.")

    @property
    def datatools_prefix(self) -> str:
        """`DATATOOLS_S3ROOT` (`metaflow.S3`): Metaflow's default, `<datastore root>/data`, so one prefix holds all."""
        return f"{self.datastore_prefix}/data"


def metaflow_problems(cfg: MetaflowConfig, *, kubeflow_pipelines: bool, gpu_pools: Iterable[str]) -> Iterable[Problem]:
    """Checks across concerns (paths relative to the orchestration config's `metaflow`)."""
    if not cfg.enabled:
        return
    if cfg.scheduler == "argoWorkflows" and not kubeflow_pipelines:
        yield "scheduler", ARGO_NEEDED
    yield from metaflow_own_problems(cfg)
    pools = set(gpu_pools)
    if cfg.gpu_pool is not None and cfg.gpu_pool not in pools:
        yield "gpuPool", f"unknown GPU pool {cfg.gpu_pool!r} (known: {', '.join(sorted(pools)) or 'none'})"


ARGO_NEEDED = ("argoWorkflows needs the Argo Workflows Kubeflow Pipelines installs (its CRDs and PriorityClass): "
               "enable kubeflowPipelines, or set scheduler: none")


def metaflow_own_problems(cfg: MetaflowConfig) -> Iterable[Problem]:
    """What Metaflow's own config must satisfy wherever it is built (the platform, a consumer stack, the component
    alone): the namespace its Argo controller is pinned to, and the step image."""
    if cfg.scheduler == "argoWorkflows" and cfg.namespace != ARGO_NAMESPACE:
        yield "namespace", (f"Metaflow's Argo controller is pinned to namespace {ARGO_NAMESPACE!r} "
                            "(pipelines/metaflow_argo/kustomization.yaml); use it, or set scheduler: none")
    if cfg.task_image is None:
        yield "taskImage", ("required: an image with boto3 and requests installed and METAFLOW_SKIP_INSTALL_DEPENDENCIES "
                            "set (images/metaflow-step/Dockerfile); step pods cannot reach PyPI")
