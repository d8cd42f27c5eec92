"""The orchestration add-on's adapter: the platform's side of Airflow, Kubeflow Pipelines, Metaflow and Prefect.

The engines are libraries (mlops_infra/pipelines/): each takes its own config and `EngineRefs`. This module builds
those from `PlatformConfig` and the core's refs (`PlatformContext`), creates each engine's namespace under the
platform (where it has always been), registers the buckets the engines expose (`ctx.add_bucket`), and returns the
stack outputs it declares in `OUTPUTS`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi

from ..blocks.namespace import PodSecurityLevel
from ..blocks.naming import child
from ..features.config import FeastFeatureStoreConfig
from ..features.feature_server import SERVICE_PORT as FEATURE_SERVER_PORT
from ..pipelines import airflow, kfp, metaflow, prefect
from ..pipelines.prefect_cloud import PrefectCloudKey
from ..pipelines.prefect_config import PrefectCloudConfig
from ..pipelines.refs import UNGUARDED, Endpoint, EngineRefs
from ..pipelines.wiring_common import engine_namespace
from ..registry.config import MlflowModelRegistryConfig
from .addons import AddOn, PlatformContext
from .config import PlatformConfig, uses_dynamodb
from .output_key import Key

__all__ = ["ADD_ON", "OUTPUTS", "build", "engine_refs"]


def _airflow(c: PlatformConfig) -> bool:
    return c.orchestration.airflow.enabled


def _kfp(c: PlatformConfig) -> bool:
    return c.orchestration.kubeflow_pipelines.enabled


def _metaflow(c: PlatformConfig) -> bool:
    return c.orchestration.metaflow.enabled


def _prefect(c: PlatformConfig) -> bool:
    return c.orchestration.prefect.enabled


def _prefect_server(c: PlatformConfig) -> bool:
    return c.orchestration.prefect.enabled and c.orchestration.prefect.api.mode == "selfHosted"


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
"""The orchestration add-on's stack outputs (mlops_infra.outputs.Key), one section per engine."""


def engine_refs(ctx: PlatformContext) -> EngineRefs:
    """What every engine gets from the platform: its cluster and VPC, the data key and guard, the managed grants,
    MLflow and the feature server (URL, namespace, port), and the credentials of each engine namespace."""
    config = ctx.config
    reg, fs = config.model_registry, config.feature_store
    mlflow = Endpoint(ctx.mlflow_tracking_uri, reg.namespace, reg.api_port) \
        if isinstance(reg, MlflowModelRegistryConfig) and reg.enabled and ctx.mlflow_tracking_uri is not None else None
    feast = Endpoint(ctx.feature_server_url, fs.namespace, FEATURE_SERVER_PORT) \
        if isinstance(fs, FeastFeatureStoreConfig) and fs.enabled and ctx.feature_server_url is not None else None
    return EngineRefs(
        cluster=ctx.cluster, network=ctx.network, region=config.region, tags=ctx.tags, protect=ctx.protect,
        kms_key=ctx.data_key, monitoring=ctx.monitoring,
        # None: guards off by config (securityBaseline.exfiltrationGuards), a choice already made there.
        bucket_guard=UNGUARDED if ctx.bucket_guard is None else ctx.bucket_guard,
        feature_read_policy_arn=ctx.feature_read_policy_arn, artifact_write_policy_arn=ctx.artifact_write_policy_arn,
        mlflow=mlflow, feature_server=feast, dynamodb=uses_dynamodb(config), gpu_pools=tuple(config.gpu_pools),
        external_secrets=ctx.external_secrets, mlflow_credentials=ctx.mlflow_credentials,
        feature_registry_logins=ctx.feature_registry_logins,
        mlflow_credentials_secret=ctx.credential_secrets[0], feast_credentials_secret=ctx.credential_secrets[1],
        credential_namespaces=frozenset(t.name for t in config.cluster.teams))


def _in_namespace(ctx: PlatformContext, refs: EngineRefs, engine: str, name: str,
                  level: PodSecurityLevel) -> EngineRefs:
    """`refs` whose cluster has the engine's namespace: created here, a child of the platform named
    `<platform>-<engine>-namespace` (its released address), unless the cluster already has it."""
    ns = engine_namespace(child(child(ctx.name, engine), "namespace"), ctx.parent, ctx.cluster, name, engine,
                          level=level)
    cluster = dataclasses.replace(ctx.cluster, namespaces={**ctx.cluster.namespaces, name: ns})
    return dataclasses.replace(refs, cluster=cluster)


def build(ctx: PlatformContext) -> dict[str, Any]:
    """Each enabled engine under the platform; returns their stack outputs (`OUTPUTS`)."""
    cfg, refs = ctx.config.orchestration, engine_refs(ctx)
    outputs: dict[str, Any] = {}
    argo_base: list[pulumi.Resource] = []  # KFP's Argo CRDs and PriorityClass: Metaflow's Argo controller waits
    if cfg.airflow.enabled:
        af_cfg = cfg.airflow
        af = airflow.Airflow(child(ctx.name, airflow.ENGINE), airflow.AirflowArgs(
            config=af_cfg, refs=_in_namespace(ctx, refs, airflow.ENGINE, af_cfg.namespace, airflow.POD_SECURITY)),
            ctx.k8s_opts)
        ctx.add_bucket(af.bucket)
        outputs |= {"airflowNamespace": af_cfg.namespace, "airflowApiServerUrl": af.api_server_url,
                    "airflowLogBucket": af.bucket.bucket_name, "airflowWorkerRoleArn": af.wiring.role_arn,
                    "airflowDatabaseEndpoint": af.database.db.instance.endpoint}
    if cfg.kubeflow_pipelines.enabled:
        kfp_cfg = cfg.kubeflow_pipelines
        pipelines = kfp.KubeflowPipelines(child(ctx.name, kfp.ENGINE), kfp.KubeflowPipelinesArgs(
            config=kfp_cfg, refs=_in_namespace(ctx, refs, kfp.ENGINE, kfp_cfg.namespace, kfp.POD_SECURITY)),
            ctx.k8s_opts)
        ctx.add_bucket(pipelines.bucket)
        argo_base = pipelines.argo_base
        gpu = pipelines.gpu
        outputs |= {"kfpNamespace": kfp_cfg.namespace, "kfpApiUrl": pipelines.api_url,
                    "kfpArtifactBucket": pipelines.bucket.bucket_name,
                    "kfpPipelineRunnerRoleArn": pipelines.wiring.role_arn,
                    "kfpDatabaseEndpoint": pipelines.database.db.instance.endpoint,
                    "kfpGpuPlacement": json.dumps({"nodeSelector": gpu.node_selector, "tolerations": gpu.tolerations})}
    if cfg.metaflow.enabled:
        mf_cfg = cfg.metaflow
        mf = metaflow.Metaflow(child(ctx.name, metaflow.ENGINE), metaflow.MetaflowArgs(
            config=mf_cfg, refs=_in_namespace(ctx, refs, metaflow.ENGINE, mf_cfg.namespace, metaflow.POD_SECURITY),
            argo_base=list(argo_base)), ctx.k8s_opts)
        ctx.add_bucket(mf.bucket)
        outputs |= {"metaflowConfig": mf.user_config, "metaflowServiceUrl": mf.service_url,
                    "metaflowDatastoreRoot": mf.datastore_root, "metaflowNamespace": mf_cfg.namespace,
                    "metaflowTaskRoleArn": mf.wiring.role_arn,
                    "metaflowDatabaseEndpoint": mf.database.db.instance.endpoint}
    if cfg.prefect.enabled:
        outputs |= _prefect_outputs(ctx, refs)
    return outputs


def _prefect_outputs(ctx: PlatformContext, refs: EngineRefs) -> dict[str, Any]:
    pf_cfg = ctx.config.orchestration.prefect
    # Prefect Cloud: the API key is an integration secret (config validation: one of that name exists).
    api_key = pf_cfg.api.api_key_secret if isinstance(pf_cfg.api, PrefectCloudConfig) else None
    secret = next((s for s in ctx.config.security_baseline.integration_secrets if s.name == api_key), None)
    # Delivered by the security baseline's SecretsDelivery (granted to the namespace: config validation).
    cloud_key = PrefectCloudKey.delivered(ctx.external_secrets, secret_key=secret.secret_key) \
        if secret is not None and ctx.external_secrets is not None else None
    pf = prefect.Prefect(child(ctx.name, prefect.ENGINE), prefect.PrefectArgs(
        config=pf_cfg, refs=_in_namespace(ctx, refs, prefect.ENGINE, pf_cfg.namespace, prefect.POD_SECURITY),
        cloud_api_key=cloud_key), ctx.k8s_opts)
    out: dict[str, Any] = {"prefectNamespace": pf_cfg.namespace, "prefectWorkPool": pf_cfg.work_pool,
                           "prefectApiUrl": pf.api_url, "prefectBaseJobTemplate": pf.base_job_template,
                           "prefectProjectYaml": pf.project_yaml, "prefectFlowRoleArn": pf.wiring.role_arn}
    if pf.database is not None:
        out["prefectDatabaseEndpoint"] = pf.database.db.instance.endpoint
    return out


ADD_ON = AddOn("pipelines", build, OUTPUTS)
