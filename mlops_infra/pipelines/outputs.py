"""The orchestration add-on's stack outputs (mlops_infra.outputs.Key), one section per engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..outputs import Key

if TYPE_CHECKING:
    from ..config import PlatformConfig


def _airflow(c: PlatformConfig) -> bool:
    return c.orchestration.airflow.enabled


def _kfp(c: PlatformConfig) -> bool:
    return c.orchestration.kubeflow_pipelines.enabled


AIRFLOW_OUTPUTS: tuple[Key, ...] = (
    Key("airflowNamespace", "Namespace of Airflow (scheduler, API server, task pods).", when=_airflow, required=False),
    Key("airflowApiServerUrl", "In-cluster URL of the Airflow API server / UI.", when=_airflow, required=False),
    Key("airflowLogBucket", "S3 bucket of the remote task logs.", when=_airflow, required=False),
    Key("airflowWorkerRoleArn", "IAM role of the task pods (KubernetesExecutor workers).", when=_airflow,
        required=False),
    Key("airflowDatabaseEndpoint", "RDS endpoint of the Airflow metadata database.", when=_airflow, required=False),
)

KFP_OUTPUTS: tuple[Key, ...] = (
    Key("kfpNamespace", "Namespace of Kubeflow Pipelines and its Argo Workflows controller.", when=_kfp,
        required=False),
    Key("kfpApiUrl", "In-cluster URL of the Kubeflow Pipelines API (`kfp.Client(host=...)`).", when=_kfp,
        required=False),
    Key("kfpArtifactBucket", "S3 bucket of pipeline artifacts (KFP pipeline root, Argo artifact repository).",
        when=_kfp, required=False),
    Key("kfpPipelineRunnerRoleArn", "IAM role of pipeline step pods.", when=_kfp, required=False),
    Key("kfpDatabaseEndpoint", "RDS endpoint of the Kubeflow Pipelines database.", when=_kfp, required=False),
    Key("kfpGpuPlacement", "JSON {nodeSelector, tolerations} of the training pool GPU steps run on.", when=_kfp,
        required=False),
)


def _metaflow(c: PlatformConfig) -> bool:
    return c.orchestration.metaflow.enabled


def _prefect(c: PlatformConfig) -> bool:
    return c.orchestration.prefect.enabled


def _prefect_server(c: PlatformConfig) -> bool:
    return c.orchestration.prefect.enabled and c.orchestration.prefect.api.mode == "selfHosted"


METAFLOW_OUTPUTS: tuple[Key, ...] = (
    Key("metaflowConfig", "The Metaflow config users install as `~/.metaflowconfig/config.json` (the JSON "
        "`metaflow configure` writes): S3 datastore, metadata service, Kubernetes namespace, account, tolerations.",
        when=_metaflow, required=False),
    Key("metaflowServiceUrl", "In-cluster URL of the Metaflow metadata service.", when=_metaflow, required=False),
    Key("metaflowDatastoreRoot", "S3 root of the Metaflow datastore (`s3://<bucket>/<prefix>`).", when=_metaflow,
        required=False),
    Key("metaflowNamespace", "Namespace of the metadata service and of flow pods (Argo WorkflowTemplates).",
        when=_metaflow, required=False),
    Key("metaflowTaskRoleArn", "IAM role of Metaflow step pods (datastore read/write).", when=_metaflow,
        required=False),
    Key("metaflowDatabaseEndpoint", "RDS endpoint of the metadata service's database.", when=_metaflow,
        required=False),
)

PREFECT_OUTPUTS: tuple[Key, ...] = (
    Key("prefectNamespace", "Namespace of the Prefect worker (and server) and of flow-run Jobs.", when=_prefect,
        required=False),
    Key("prefectWorkPool", "The Kubernetes work pool the worker serves (`work_pool.name` in prefect.yaml).",
        when=_prefect, required=False),
    Key("prefectApiUrl", "PREFECT_API_URL: the in-cluster server, or the Prefect Cloud workspace.", when=_prefect,
        required=False),
    Key("prefectBaseJobTemplate", "The work pool's base job template (JSON).", when=_prefect, required=False),
    Key("prefectProjectYaml", "A prefect.yaml deploying to the work pool (`prefect deploy --all`).", when=_prefect,
        required=False),
    Key("prefectFlowRoleArn", "IAM role of flow-run pods.", when=_prefect, required=False),
    Key("prefectDatabaseEndpoint", "RDS endpoint of the self-hosted Prefect server's database.",
        when=_prefect_server, required=False),
)

OUTPUTS: tuple[Key, ...] = (*AIRFLOW_OUTPUTS, *KFP_OUTPUTS, *METAFLOW_OUTPUTS, *PREFECT_OUTPUTS)
