"""Kubeflow Pipelines standalone (2.17.0) with Argo Workflows, on the platform's blocks.

Database: KFP 2.17.0 ships a PostgreSQL install (manifests/kustomize/env/platform-agnostic-postgresql; the API
server's `DBCONFIG_POSTGRESQLCONFIG_*`, ML Metadata's `--metadata_source_config_type=postgresql`), so the
pipeline, cache and ML Metadata databases live on one RDS Postgres of the Postgres block: no MySQL needed. The
manifests' in-cluster databases and object store are left out (kfp_manifests/kustomization.yaml).

Artifacts: `s3://<kfp bucket>/pipelines` (the launcher's `defaultPipelineRoot`, S3 provider with credentials
`fromEnv`: the pod's IRSA web identity) and Argo's namespace default artifact repository (`artifact-repositories`,
`useSDKCreds`). The API server reads S3 with the default AWS credential chain when no access key is set
(backend/src/apiserver/client_manager/client_manager.go `validateRequiredConfig`, 2.17.0).
The UI is a ClusterIP Service (port-forward), or an internal ALB with TLS.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.naming import child, child_options
from ..platform.addons import PlatformContext
from .config import KfpConfig
from .wiring_common import (
    EngineWiring,
    EngineWiringArgs,
    control_plane_egress,
    engine_namespace,
    gpu_scheduling,
    metadata_database,
)

MANIFESTS = Path(__file__).resolve().parent / "kfp_manifests"
PIPELINE_ROOT_PREFIX = "pipelines"
ARGO_PREFIX = "argo"
RUNNER_SA = "pipeline-runner"  # Argo runs pipeline pods as this ServiceAccount (KFP default)
API_SA = "ml-pipeline"
API_PORT = 8888  # ml-pipeline Service, HTTP
UI_SERVICE, UI_PORT = "ml-pipeline-ui", 80
ARTIFACT_REPOSITORIES = "artifact-repositories"
DEFAULT_REPOSITORY_KEY = "default-v1"
PATCH_FORCE = {"pulumi.com/patchForce": "true"}
# Databases on the RDS instance: the API server's (pipelineDb), the cache server's (cacheDb) and ML Metadata's
# (metadata-postgres-db-parameters POSTGRES_DBNAME); the servers create them on first start.
DB_NAME = "mlpipeline"


def s3_endpoint(region: str) -> str:
    return f"s3.{region}.amazonaws.com"


def launcher_config(bucket: str, region: str) -> dict[str, str]:
    """`kfp-launcher` ConfigMap data (backend/src/v2/config/env.go and s3.go, 2.17.0)."""
    providers = {"s3": {"default": {"endpoint": s3_endpoint(region), "region": region, "disableSSL": False,
                                    "credentials": {"fromEnv": True}}}}
    return {"defaultPipelineRoot": f"s3://{bucket}/{PIPELINE_ROOT_PREFIX}", "providers": yaml.safe_dump(providers)}


def argo_artifact_repository(bucket: str, region: str) -> dict[str, Any]:
    """Argo's S3 artifact repository: IRSA (`useSDKCreds`), keys under `argo/`; the bucket encrypts with its key."""
    return {"archiveLogs": True, "s3": {
        "bucket": bucket, "endpoint": s3_endpoint(region), "region": region, "insecure": False, "useSDKCreds": True,
        "keyFormat": f"{ARGO_PREFIX}/{{{{workflow.name}}}}/{{{{pod.name}}}}"}}


@dataclass(frozen=True)
class KubeflowPipelinesArgs:
    ctx: PlatformContext
    config: KfpConfig


class KubeflowPipelines(pulumi.ComponentResource):
    bucket: HardenedBucket
    wiring: EngineWiring
    api_url: pulumi.Output[str]

    def __init__(self, name: str, args: KubeflowPipelinesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:pipelines:KubeflowPipelines", name, None, opts)
        ctx, cfg = args.ctx, args.config
        region, provider = ctx.config.region, ctx.cluster.provider
        self._k8s_provider = provider
        k8s_opts = child_options(self, provider=provider)
        # baseline: upstream KFP pods (and users' steps) do not all meet `restricted`; warn/audit report them.
        ns = engine_namespace(ctx, cfg.namespace, "kfp", level="baseline")
        self.bucket = ctx.add_bucket(HardenedBucket(child(name, "artifacts"), HardenedBucketArgs(
            kms_key=ctx.data_key, tags=ctx.tags, protect=ctx.protect, vpc_endpoint_guard=ctx.bucket_guard,
            lifecycle=[LifecycleRule("expire-pipeline-artifacts", f"{PIPELINE_ROOT_PREFIX}/",
                                     expiration_days=cfg.artifact_retention_days),
                       LifecycleRule("expire-argo-logs", f"{ARGO_PREFIX}/", expiration_days=cfg.artifact_retention_days)]),
            pulumi.ResourceOptions(parent=self)))
        self.wiring = EngineWiring(child(name, "wiring"), EngineWiringArgs(
            ctx=ctx, engine="kfp", namespace=ns, service_account=RUNNER_SA, statements=self.bucket.write_statements(),
            automount_token=True),  # the KFP driver and launcher call the Kubernetes API from step pods
            pulumi.ResourceOptions(parent=self))
        self.api_identity = WorkloadIdentity(child(name, "api-server"), WorkloadIdentityArgs(
            cluster=ctx.cluster.identity, namespace=ns, service_account=API_SA, tags=ctx.tags,
            statements=self.bucket.write_statements(), automount_token=True), pulumi.ResourceOptions(parent=self))
        self.database = metadata_database(
            self, child(name, "db"), ctx, config=cfg.database, namespace=ns, db_name=DB_NAME, username="kfp",
            secret_name="postgres-secret-extended",
            template=lambda _a, _p: {"username": "{{ .username }}", "password": "{{ .password }}"},
            more_secrets={"metadata-postgres-db-secrets": {"POSTGRES_USER": "{{ .username }}",
                                                           "POSTGRES_PASSWORD": "{{ .password }}"}})
        # The manifests' database host names, pointed at RDS (pipeline-install-config postgresHost: `postgres`;
        # ML Metadata's --postgres_config_host: the Service `metadata-postgres-db`).
        for svc in ("postgres", "metadata-postgres-db"):
            k8s.core.v1.Service(child(name, f"{svc}-rds"), metadata={"name": svc, "namespace": ns},
                                spec={"type": "ExternalName", "external_name": self.database.address}, opts=k8s_opts)
        # The API server's object-store credentials: none (IRSA). Its env reads these keys, so the Secret must exist.
        k8s.core.v1.Secret(child(name, "object-store-keys"), metadata={"name": "mlpipeline-minio-artifact",
                                                                        "namespace": ns},
                           string_data={"accesskey": "", "secretkey": ""}, opts=k8s_opts)
        cluster_scoped = k8s.kustomize.v2.Directory(
            child(name, "cluster-scoped"), directory=_relative(MANIFESTS / "cluster-scoped"), opts=k8s_opts)
        manifests = k8s.kustomize.v2.Directory(
            child(name, "manifests"), directory=_relative(MANIFESTS), opts=child_options(
                self, provider=provider, depends_on=[cluster_scoped, self.wiring, self.api_identity]))
        self._platform_config(name, ns, region, manifests)
        control_plane_egress(self, name, ctx, namespace=ns, pod_selector={})
        if cfg.ui.ingress:
            self._ingress(name, ns, cfg, [manifests, *ctx.cluster.ingress_dependencies])
        self.api_url = pulumi.Output.format("http://ml-pipeline.{0}.svc.cluster.local:{1}", ns, API_PORT)
        self.register_outputs({"apiUrl": self.api_url, "artifactBucket": self.bucket.bucket_name})

    def _platform_config(self, name: str, ns: pulumi.Input[str], region: str, manifests: pulumi.Resource) -> None:
        """What the manifests leave to the installer: bucket, pipeline root, S3 endpoint; Argo's repository."""
        opts = child_options(self, provider=self._k8s_provider, depends_on=[manifests])
        bucket = self.bucket.bucket_name
        k8s.core.v1.ConfigMapPatch(
            child(name, "install-config"), metadata={"name": "pipeline-install-config", "namespace": ns,
                                                     "annotations": PATCH_FORCE},
            data={"bucketName": bucket,
                  "defaultPipelineRoot": pulumi.Output.format("s3://{0}/{1}", bucket, PIPELINE_ROOT_PREFIX)},
            opts=opts)
        k8s.core.v1.ConfigMapPatch(
            child(name, "launcher-config"), metadata={"name": "kfp-launcher", "namespace": ns,
                                                      "annotations": PATCH_FORCE},
            data=bucket.apply(lambda b: launcher_config(b, region)), opts=opts)
        # Typed as k8s EnvVar dicts: an untyped nested literal makes mypy match it against every TypedDict union of
        # the patch's spec (tens of GB and minutes).
        env: list[k8s.core.v1.EnvVarPatchArgsDict] = [{"name": "OBJECTSTORECONFIG_HOST", "value": s3_endpoint(region)},
               {"name": "OBJECTSTORECONFIG_SECURE", "value": "true"},
               {"name": "OBJECTSTORECONFIG_REGION", "value": region}]
        k8s.apps.v1.DeploymentPatch(
            child(name, "api-server-s3"), metadata={"name": "ml-pipeline", "namespace": ns, "annotations": PATCH_FORCE},
            spec={"template": {"spec": {"containers": [{"name": "ml-pipeline-api-server", "env": env}]}}}, opts=opts)
        repository = bucket.apply(lambda b: yaml.safe_dump(argo_artifact_repository(b, region)))
        k8s.core.v1.ConfigMap(
            child(name, "argo-artifact-repositories"),
            metadata={"name": ARTIFACT_REPOSITORIES, "namespace": ns,
                      "annotations": {"workflows.argoproj.io/default-artifact-repository": DEFAULT_REPOSITORY_KEY}},
            data={DEFAULT_REPOSITORY_KEY: repository}, opts=child_options(self, provider=self._k8s_provider))

    def _ingress(self, name: str, ns: pulumi.Input[str], cfg: KfpConfig, depends_on: list[pulumi.Resource]) -> None:
        ui = cfg.ui
        annotations = {
            "alb.ingress.kubernetes.io/scheme": "internal" if ui.internal else "internet-facing",
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": 443}]),
            "alb.ingress.kubernetes.io/certificate-arn": ui.certificate_arn or "",
            "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        }
        backend: k8s.networking.v1.IngressBackendArgsDict = {"service": {"name": UI_SERVICE,
                                                                          "port": {"number": UI_PORT}}}
        path: k8s.networking.v1.HTTPIngressPathArgsDict = {"path": "/", "path_type": "Prefix", "backend": backend}
        rule: k8s.networking.v1.IngressRuleArgsDict = {"host": ui.host or "", "http": {"paths": [path]}}
        k8s.networking.v1.Ingress(
            child(name, "ui-ingress"), metadata={"name": UI_SERVICE, "namespace": ns, "annotations": annotations},
            spec={"ingress_class_name": "alb", "tls": [{"hosts": [ui.host or ""]}], "rules": [rule]},
            opts=child_options(self, provider=self._k8s_provider, depends_on=depends_on))


def _relative(path: Path) -> str:
    """The manifests' folder relative to the program's working directory: the same string on every machine that
    runs the stack from the repository root (an absolute path would differ, and show as a diff)."""
    return os.path.relpath(path, Path.cwd())


def build_kfp(ctx: PlatformContext) -> dict[str, Any]:
    cfg = ctx.config.orchestration.kubeflow_pipelines
    kfp = KubeflowPipelines(child(ctx.name, "kfp"), KubeflowPipelinesArgs(ctx=ctx, config=cfg), ctx.k8s_opts)
    gpu = gpu_scheduling(ctx.config, cfg.gpu_pool)
    return {"kfpNamespace": cfg.namespace, "kfpApiUrl": kfp.api_url, "kfpArtifactBucket": kfp.bucket.bucket_name,
            "kfpPipelineRunnerRoleArn": kfp.wiring.role_arn,
            "kfpDatabaseEndpoint": kfp.database.db.instance.endpoint,
            "kfpGpuPlacement": json.dumps({"nodeSelector": gpu.node_selector, "tolerations": gpu.tolerations})}
