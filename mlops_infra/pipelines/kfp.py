"""Kubeflow Pipelines standalone (2.17.0) with Argo Workflows, on the platform's blocks.

Database: RDS MySQL (kfp_database.py: the 2.17.0 API server cannot reach a TLS-only Postgres, its v1 cache server
speaks only MySQL), with the pipeline (`mlpipeline`) and ML Metadata (`metadb`) databases, which the servers
create on first start. Cache: v2 pipelines cache through the API server; the v1 cache webhook and its deployer are
not installed (kfp_manifests/kustomization.yaml).

What the manifests leave to the installer is owned here, never patched over the Directory's objects (its next
apply would revert a patch): `pipeline-install-config` (bucket, S3 endpoint and region, database host, TLS
parameters), which the rendered Deployments read through configMapKeyRef, and `kfp-launcher`. The Directory
depends on them, on the identities and on the database with its External Secrets: nothing waits on it.

Artifacts: `s3://<kfp bucket>/pipelines` (the launcher's `defaultPipelineRoot`, S3 provider with credentials
`fromEnv`: the pod's IRSA web identity) and Argo's namespace default artifact repository (`artifact-repositories`,
`useSDKCreds`). The API server and the UI read S3 with the default AWS credential chain when no access key is set
(backend/src/apiserver/client_manager/client_manager.go `validateRequiredConfig`, frontend/server/minio-helper.ts,
2.17.0): each has its own IRSA role. The UI is a ClusterIP Service (port-forward), or an internal ALB with TLS.
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
from ..blocks.cluster_add_ons import claim
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.namespace import PodSecurityLevel
from ..blocks.naming import child, child_options
from ..security.exfiltration_guards import API_SERVICE_PORT, api_service_ips
from . import kfp_admission
from .config import KFP_VERSION, KfpConfig
from .engine_checks import engine_problems, refuse
from .kfp_database import API_EXTRA_PARAMS, MYSQL_PORT, mlmd_config_template, mysql
from .refs import EngineRefs
from .wiring_common import (
    EngineWiring,
    EngineWiringArgs,
    GpuScheduling,
    control_plane_egress,
    engine_namespace,
    gpu_scheduling,
    metadata_database,
)

MANIFESTS = Path(__file__).resolve().parent / "kfp_manifests"
ENGINE = "kfp"
"""Short engine name: labels, the namespace's child name."""
CONFIG_PATH = "orchestration.kubeflowPipelines"
"""Where a stack's `mlops:platform` configures it (named in the engine's refusals)."""
POD_SECURITY: PodSecurityLevel = "baseline"
"""Upstream KFP pods (and users' steps) do not all meet `restricted`; warn/audit report them."""
PIPELINE_ROOT_PREFIX = "pipelines"
ARGO_PREFIX = "argo"
RUNNER_SA = "pipeline-runner"  # Argo runs pipeline pods as this ServiceAccount (KFP default)
API_SA = "ml-pipeline"
UI_SA = "ml-pipeline-ui"
API_PORT = 8888  # ml-pipeline Service, HTTP
UI_SERVICE, UI_PORT = "ml-pipeline-ui", 80
ARTIFACT_REPOSITORIES = "artifact-repositories"
DEFAULT_REPOSITORY_KEY = "default-v1"
INSTALL_CONFIG, LAUNCHER_CONFIG = "pipeline-install-config", "kfp-launcher"
# Databases on the RDS instance: the API server's (pipelineDb) and ML Metadata's (mlmdDb).
DB_NAME, MLMD_DB = "mlpipeline", "metadb"
DB_HOST = "mysql"
"""The manifests' database host name (upstream's default `mysql`): an ExternalName Service to the RDS instance."""
DB_SECRET, MLMD_SECRET = "mysql-secret", "metadata-mysql-config"
# Pods that call the Kubernetes API (controllers, the API server, the UI for pod logs) and those that reach MySQL.
API_CLIENTS = ["ml-pipeline", "ml-pipeline-persistenceagent", "ml-pipeline-scheduledworkflow", "ml-pipeline-ui",
               "ml-pipeline-viewer-crd", "metadata-writer", "workflow-controller"]
DB_CLIENTS = {"app": ["ml-pipeline"], "component": ["metadata-grpc-server"]}
DB_CLIENT_ACCOUNTS = {("app", "ml-pipeline"): API_SA, ("component", "metadata-grpc-server"): "metadata-grpc-server"}
"""The ServiceAccount each database egress label belongs to: a pod carrying the label runs as it (kfp_admission.py
rule 6; tests/pipelines/test_kfp_admission.py derives the labels from the planned NetworkPolicies)."""
DB_WORKLOADS = list(kfp_admission.WORKLOAD_NAMES)
"""The Deployments reading the database Secrets (the API server; ML Metadata's server, its config file)."""
READER_SERVICES = (DB_HOST, "ml-pipeline", "metadata-grpc-service")
"""The Services the credential readers and KFP's components connect to (the database host; the API server; ML
Metadata's server, the metadata-grpc-configmap host): only the deployer changes them (kfp_admission.py rule 5)."""
DB_READERS = {DB_SECRET: API_SA, MLMD_SECRET: "metadata-grpc-server"}
"""Each database Secret and the only ServiceAccount whose pods may read it (kfp_admission.py)."""
CREDENTIAL_HOLDERS = (*kfp_admission.HOLDERS, f"{DB_SECRET}-reader")
"""Every other ServiceAccount that can obtain the credentials: RBAC on the Secrets, or the IRSA role of External
Secrets' `<secret>-reader` (metadata_database), whose pods would get it whatever automount says."""
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
# Argo's controller PriorityClass (argo-workflows v4.0.5 manifests/base/workflow-controller/
# workflow-controller-priorityclass.yaml, value 1000000): both Argo controllers (KFP's and Metaflow's) name it, so
# it is owned here once, outside the Directories (KFP's waits for its database, Metaflow's must not).
ARGO_PRIORITY_CLASS, ARGO_PRIORITY = "workflow-controller", 1_000_000


def s3_endpoint(region: str) -> str:
    return f"s3.{region}.amazonaws.com"


def launcher_config(bucket: str, region: str) -> dict[str, str]:
    """`kfp-launcher` ConfigMap data (backend/src/v2/config/env.go and s3.go, 2.17.0)."""
    providers = {"s3": {"default": {"endpoint": s3_endpoint(region), "region": region, "disableSSL": False,
                                    "credentials": {"fromEnv": True}}}}
    return {"defaultPipelineRoot": f"s3://{bucket}/{PIPELINE_ROOT_PREFIX}", "providers": yaml.safe_dump(providers)}


def install_config(bucket: str, region: str) -> dict[str, str]:
    """`pipeline-install-config`: upstream's keys (base/installs/generic/pipeline-install-config.yaml, 2.17.0, MySQL)
    with the platform's values, plus the keys our static patches read (kfp_manifests/kustomization.yaml)."""
    return {
        "appName": "pipeline", "appVersion": KFP_VERSION, "dbType": "mysql",
        "mysqlHost": DB_HOST, "mysqlPort": str(MYSQL_PORT), "mlmdDb": MLMD_DB, "pipelineDb": DB_NAME,
        "mysqlExtraParams": API_EXTRA_PARAMS,
        "bucketName": bucket, "defaultPipelineRoot": f"s3://{bucket}/{PIPELINE_ROOT_PREFIX}",
        "objectStoreHost": s3_endpoint(region), "objectStoreRegion": region,
        "autoUpdatePipelineDefaultVersion": "true", "cronScheduleTimezone": "UTC", "ConMaxLifeTime": "120s",
        "LOG_LEVEL": "info", "ARTIFACTS_PROXY_ENABLED": "false", "ARTIFACT_RETENTION_DAYS": "-1",
        "defaultSecurityContextRunAsUser": "", "defaultSecurityContextRunAsGroup": "",
        "defaultSecurityContextRunAsNonRoot": "", "defaultSecurityContextHostUsers": "",
        "BLOCK_V1_PIPELINES": "false", "V1_ALLOWED_NAMESPACES": "",
        "USERID_HEADER": "kubeflow-userid", "USERID_PREFIX": "",
    }


def argo_artifact_repository(bucket: str, region: str) -> dict[str, Any]:
    """Argo's S3 artifact repository: IRSA (`useSDKCreds`), keys under `argo/`; the bucket encrypts with its key."""
    return {"archiveLogs": True, "s3": {
        "bucket": bucket, "endpoint": s3_endpoint(region), "region": region, "insecure": False, "useSDKCreds": True,
        "keyFormat": f"{ARGO_PREFIX}/{{{{workflow.name}}}}/{{{{pod.name}}}}"}}


@dataclass(frozen=True)
class KubeflowPipelinesArgs:
    config: KfpConfig
    refs: EngineRefs
    """What KFP runs on and its pods call (cluster, network, key, bucket guard, grants, endpoints)."""


class KubeflowPipelines(pulumi.ComponentResource):
    """Kubeflow Pipelines standalone with Argo Workflows, its artifact bucket and database, on an existing cluster."""
    bucket: HardenedBucket
    """Pipeline artifacts (carries `refs.bucket_guard`): whoever guards or audits data buckets needs it."""
    argo_base: list[pulumi.Resource]
    """What any Argo controller on the cluster needs first: the CRDs (cluster-scoped Directory), the PriorityClass."""
    wiring: EngineWiring
    api_url: pulumi.Output[str]
    gpu: GpuScheduling
    """Where GPU steps run (node selector, tolerations): what pipeline authors put on GPU tasks."""

    # long: one straight sequence of children (bucket, identities, database, admission policy, kustomize bases)
    def __init__(self, name: str, args: KubeflowPipelinesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg = args.config
        refuse(name, CONFIG_PATH, engine_problems(args.refs, cfg.namespace, cfg.ui, [child(name, "artifacts")]))
        claim(args.refs.cluster, "kubeflowPipelines", name)  # a cluster runs one: refused when it already does
        super().__init__("mlops:pipelines:KubeflowPipelines", name, None, args.refs.cluster.bind(opts))
        refs = args.refs.with_key(self, name)
        self._k8s_provider = provider = refs.cluster.provider
        k8s_opts = child_options(self, provider=provider)
        ns = engine_namespace(child(name, "namespace"), self, refs.cluster, cfg.namespace, ENGINE, level=POD_SECURITY, refs=refs)
        self.bucket = HardenedBucket(child(name, "artifacts"), HardenedBucketArgs(
            kms_key=refs.key, tags=refs.tags, protect=refs.protect, vpc_endpoint_guard=refs.data_guard(self, child(name, "artifacts")),
            lifecycle=[LifecycleRule("expire-pipeline-artifacts", f"{PIPELINE_ROOT_PREFIX}/",
                                     expiration_days=cfg.artifact_retention_days),
                       LifecycleRule("expire-argo-logs", f"{ARGO_PREFIX}/", expiration_days=cfg.artifact_retention_days)]),
            pulumi.ResourceOptions(parent=self))
        self.wiring = EngineWiring(child(name, "wiring"), EngineWiringArgs(
            refs=refs, engine=ENGINE, namespace=ns, service_account=RUNNER_SA, user=cfg.namespace,
            statements=self.bucket.write_statements(),
            automount_token=True),  # the KFP driver and launcher call the Kubernetes API from step pods
            pulumi.ResourceOptions(parent=self))
        identities = [WorkloadIdentity(child(name, component), WorkloadIdentityArgs(
            cluster=refs.cluster.identity, namespace=ns, service_account=sa, tags=refs.tags, statements=statements,
            automount_token=True), pulumi.ResourceOptions(parent=self))  # both call the Kubernetes API
            for component, sa, statements in (("api-server", API_SA, self.bucket.write_statements()),
                                               ("ui", UI_SA, self.bucket.read_statements()))]
        self.api_identity, self.ui_identity = identities
        self.database = metadata_database(
            self, child(name, "db"), refs, config=cfg.database, namespace=ns, db_name=DB_NAME, username="kfp",
            secret_name=DB_SECRET, database=mysql, workloads=DB_WORKLOADS,
            template=lambda _a, _p: {"username": "{{ .username }}", "password": "{{ .password }}"},
            more_secrets={MLMD_SECRET: {"config.pbtxt": mlmd_config_template(DB_HOST, MYSQL_PORT, MLMD_DB)}})
        # Only the readers' pods may mount the database Secrets (kfp_admission.py: the runner's RBAC cannot say so).
        admission = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(  # type: ignore[call-overload]
            child(name, "db-secret-policy"), metadata={"name": kfp_admission.NAME},
            spec=kfp_admission.policy_spec(
                cfg.namespace, DB_READERS, CREDENTIAL_HOLDERS, READER_SERVICES, DB_CLIENT_ACCOUNTS), opts=k8s_opts)
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(  # type: ignore[call-overload]
            child(name, "db-secret-policy-binding"), metadata={"name": kfp_admission.NAME},
            spec=kfp_admission.binding_spec(cfg.namespace),
            opts=child_options(self, provider=provider, depends_on=[admission]))
        db_host = k8s.core.v1.Service(
            child(name, "mysql-rds"), metadata={"name": DB_HOST, "namespace": ns},
            spec={"type": "ExternalName", "external_name": self.database.address}, opts=k8s_opts)
        owned = self._platform_config(name, ns, refs.region)
        cluster_scoped = k8s.kustomize.v2.Directory(
            child(name, "cluster-scoped"), directory=kustomize_directory(MANIFESTS / "cluster-scoped"), opts=k8s_opts)
        priority = k8s.scheduling.v1.PriorityClass(
            child(name, "argo-priority-class"), metadata={"name": ARGO_PRIORITY_CLASS}, value=ARGO_PRIORITY,
            opts=k8s_opts)
        self.argo_base = [cluster_scoped, priority]
        manifests = k8s.kustomize.v2.Directory(
            child(name, "manifests"), directory=kustomize_directory(MANIFESTS), opts=child_options(
                self, provider=provider, depends_on=[
                    *self.argo_base, self.wiring, *identities, self.database.db.instance,
                    *self.database.external_secrets, db_host, *owned]))
        self._egress(name, refs, ns)
        if cfg.ui.ingress:
            self._ingress(name, ns, cfg, [manifests, *refs.cluster.ingress_dependencies])
        self.api_url = pulumi.Output.format("http://ml-pipeline.{0}.svc.cluster.local:{1}", ns, API_PORT)
        self.gpu = gpu_scheduling(refs.gpu_pools, cfg.gpu_pool)
        self.register_outputs({"apiUrl": self.api_url, "artifactBucket": self.bucket.bucket_name})

    def _platform_config(self, name: str, ns: pulumi.Input[str], region: str) -> list[pulumi.Resource]:
        """What the manifests leave to the installer, owned here: the install config (bucket, pipeline root, S3
        endpoint, database), the launcher's config and Argo's repository."""
        opts = child_options(self, provider=self._k8s_provider)
        bucket = self.bucket.bucket_name
        install = k8s.core.v1.ConfigMap(
            child(name, "install-config"), metadata={"name": INSTALL_CONFIG, "namespace": ns},
            data=bucket.apply(lambda b: install_config(b, region)), opts=opts)
        launcher = k8s.core.v1.ConfigMap(
            child(name, "launcher-config"), metadata={"name": LAUNCHER_CONFIG, "namespace": ns},
            data=bucket.apply(lambda b: launcher_config(b, region)), opts=opts)
        repository = bucket.apply(lambda b: yaml.safe_dump(argo_artifact_repository(b, region)))
        argo = k8s.core.v1.ConfigMap(
            child(name, "argo-artifact-repositories"),
            metadata={"name": ARTIFACT_REPOSITORIES, "namespace": ns,
                      "annotations": {"workflows.argoproj.io/default-artifact-repository": DEFAULT_REPOSITORY_KEY}},
            data={DEFAULT_REPOSITORY_KEY: repository}, opts=opts)
        return [install, launcher, argo]

    def _egress(self, name: str, refs: EngineRefs, ns: pulumi.Input[str]) -> None:
        """On top of the namespace policy: the Kubernetes API for the control pods and for workflow pods (Argo's
        executor reports results, KFP's driver and launcher read their ConfigMaps), MySQL for its two clients."""
        control_plane_egress(self, child(name, "api"), refs, namespace=ns, database_port=None,
                             pod_selector={"app": API_CLIENTS})
        for key, values in DB_CLIENTS.items():
            control_plane_egress(self, child(name, f"db-{values[0]}"), refs, namespace=ns, kubernetes_api=False,
                                 database_port=MYSQL_PORT, pod_selector={key: values})
        api = pulumi.Output.from_input(refs.cluster.service_ipv4_cidr).apply(
            lambda cidr: [{"ip_block": {"cidr": ip}} for ip in api_service_ips(cidr)])
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]
            child(name, "workflow-api-egress"), metadata={"name": "workflow-api-egress", "namespace": ns},
            spec={"pod_selector": {"match_expressions": [{"key": WORKFLOW_LABEL, "operator": "Exists"}]},
                  "policy_types": ["Egress"],
                  "egress": [{"to": api, "ports": [{"protocol": "TCP", "port": API_SERVICE_PORT}]}]},
            opts=child_options(self, provider=self._k8s_provider))

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


def kustomize_directory(path: Path) -> str:
    """A kustomization of this package as `kustomize.v2.Directory` takes it: relative to the program's working
    directory, which is the provider's (Pulumi starts the language host and the kubernetes plugin in the project's
    directory, and pulumi-kubernetes 4.34.2 runs kustomize on the path as given, provider/pkg/provider/kustomize/v2/
    directory.go). The string never reaches the state: a Directory is a remote component, whose registration the
    engine answers with the provider's Construct result (no goal, no diff of its inputs), and the provider
    registers the component with no properties; the objects it renders are named `<Directory name>-...`
    (`resourcePrefix`), not after the path. So another checkout or venv location changes no URN and shows no
    diff; relative rather than absolute keeps machine paths out of plans and reports."""
    return os.path.relpath(path, Path.cwd())
