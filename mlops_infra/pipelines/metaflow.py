"""Metaflow: the metadata service on the Postgres block, an S3 datastore in a hardened bucket, flows deployed to
Metaflow's own namespaced Argo Workflows controller (on the CRDs Kubeflow Pipelines installs), steps on the training
pools, and the config users install. Flow and step pods run in this namespace: the service admits no other.

- datastore: `s3://<bucket>/<datastorePrefix>` (platform KMS key by bucket default; data tools and cards below it);
  the flows' ServiceAccount (`metaflow-flows`, shared wiring: feature-store read, model-artifact write, the platform
  env, the namespace egress policy) may read and write exactly that prefix;
- metadata service: the metaflow-service chart (outerbounds/metaflow-tools charts/metaflow/charts/metaflow-service
  0.2.2). Its `metadatadb.password` stays empty, so the chart renders no MF_METADATA_DB_PSWD value
  (templates/_helpers.tpl `metaflow-service.metadatadbEnvVars`); `env` (rendered into the server, and given to the
  migration Job) takes it from the Secret External Secrets templates from the RDS-managed password;
- scheduler: `argo-workflows create` writes WorkflowTemplates into this namespace (Metaflow's
  KUBERNETES_NAMESPACE); Metaflow's own namespaced Argo controller runs them (metaflow_argo/: KFP's controller is
  `--namespaced` in kubeflow and never sees this namespace; the CRDs come with Kubeflow Pipelines). Argo's executor
  reports results through the Kubernetes API (`workflowtaskresults`) with the flows' ServiceAccount token, so
  flow pods mount it and get that Role and API egress;
- user config: the `metaflowConfig` output is the file `metaflow configure` writes (metaflow_user_config.py).

- schema migrations: a Job of our own (metaflow_migrate.py) under the service's hardened context, which the release
  waits for; the chart's `db-migrations` init container (no securityContext in chart 0.2.2) is off.

Waiver (non-root): Metaflow 2.19.39 has no global security-context setting for step pods (`@kubernetes(
security_context=...)` per step only) and the metadata service image runs from /root, so the namespace enforces
Pod Security `baseline` (warn/audit `restricted`); the service and its migration Job drop every capability and
escalation and have a read-only root filesystem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import pod_security
from ..blocks.bucket import HardenedBucket, HardenedBucketArgs
from ..blocks.helm import PinnedChart, release
from ..blocks.namespace import PodSecurityLevel
from ..blocks.naming import child, child_options
from ..security.exfiltration_guards import API_SERVICE_PORT, api_service_ips
from .engine_checks import engine_problems, refuse
from .kfp import kustomize_directory
from .metaflow_config import (
    ARGO_NEEDED,
    METAFLOW_SERVICE_CHART,
    METAFLOW_SERVICE_PORT,
    METAFLOW_SERVICE_REPO,
    MetaflowConfig,
    metaflow_own_problems,
)
from .metaflow_migrate import migration_job
from .metaflow_user_config import MetaflowUserConfigArgs, config_json, metaflow_user_config
from .refs import EngineRefs
from .service_ingress import same_namespace_ingress
from .wiring_common import (
    EngineWiring,
    EngineWiringArgs,
    control_plane_egress,
    engine_namespace,
    gpu_scheduling,
    metadata_database,
)

ENGINE = "metaflow"
"""Short engine name: labels, the namespace's child name."""
CONFIG_PATH = "orchestration.metaflow"
"""Where a stack's `mlops:platform` configures it (named in the engine's refusals)."""
POD_SECURITY: PodSecurityLevel = "baseline"
"""Step pods and the metadata service run as root (the module's waiver)."""
SERVICE_NAME = "metaflow-service"
"""`fullnameOverride`: the Deployment, Service and selector name."""
FLOWS_SERVICE_ACCOUNT = "metaflow-flows"
SERVICE_ACCOUNT = "metaflow-service"
ENV_SECRET = "metaflow-platform-env"
DB_SECRET = "metaflow-db"
DB_NAME = "metaflow"
DB_USER = "metaflow"
PASSWORD_ENV = "MF_METADATA_DB_PSWD"
ARGO_WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
ARGO_MANIFESTS = Path(__file__).resolve().parent / "metaflow_argo"
ARGO_CONTROLLER = "workflow-controller"
SERVICE_POD_LABELS = {"app.kubernetes.io/name": SERVICE_NAME}
"""The service pods' name label (the chart's `metaflow-service.selectorLabels`: its chart name)."""


@dataclass(frozen=True)
class MetaflowArgs:
    config: MetaflowConfig
    refs: EngineRefs
    """What Metaflow runs on and its pods call (cluster, network, key, bucket guard, grants, endpoints)."""
    argo_base: list[pulumi.Resource] = field(default_factory=list)
    """What the Argo controller (`scheduler: argoWorkflows`) waits for: the Argo CRDs and the PriorityClass it names
    (`KubeflowPipelines.argo_base`, of this program). Default: none (see `argo_on_cluster`)."""
    argo_on_cluster: bool = False
    """The cluster already has that Argo base (e.g. a platform stack that runs Kubeflow Pipelines: it exports
    `kfpNamespace`). Default: false: `scheduler: argoWorkflows` then needs `argo_base`, else it is refused (the
    controller's objects would name CRDs and a PriorityClass nobody installs)."""


SERVICE_ENV: list[dict[str, Any]] = [  # the server's `env` and the migration Job's
    {"name": "MF_METADATA_DB_SSL_MODE", "value": "require"},  # RDS enforces TLS (rds.force_ssl)
    {"name": PASSWORD_ENV, "valueFrom": {"secretKeyRef": {"name": DB_SECRET, "key": PASSWORD_ENV}}},
]


def db_env(db_host: pulumi.Input[str], db_port: pulumi.Input[int]) -> list[k8s.core.v1.EnvVarArgsDict]:
    """The database env of the migration Job: what the chart's `metaflow-service.metadatadbEnvVars` renders for the
    server from `service_values` (name, port, user, host), then the server's `env` (`SERVICE_ENV`)."""
    return [{"name": "MF_METADATA_DB_NAME", "value": DB_NAME},
            {"name": "MF_METADATA_DB_PORT", "value": pulumi.Output.from_input(db_port).apply(str)},
            {"name": "MF_METADATA_DB_USER", "value": DB_USER}, {"name": "MF_METADATA_DB_HOST", "value": db_host},
            {"name": "MF_METADATA_DB_SSL_MODE", "value": "require"},
            {"name": PASSWORD_ENV, "value_from": {"secret_key_ref": {"name": DB_SECRET, "key": PASSWORD_ENV}}}]


def service_values(cfg: MetaflowConfig, db_host: pulumi.Input[str], db_port: pulumi.Input[int]) -> dict[str, Any]:
    """metaflow-service chart values (keys checked against tests/data/chart-values/metaflow-service-0.2.2.yaml)."""
    repository, tag = cfg.service_image.rsplit(":", 1)
    container = pod_security.helm_container_security_context()
    # The image runs from /root (built from the repository's Dockerfile at v2.4.13: WORKDIR /root): root (waived). Read-only root: the
    # service and run_goose.py (v2.4.13) write no file (no tempfile, no open-for-write; Python skips .pyc writes).
    container["runAsNonRoot"] = False
    return {
        "fullnameOverride": SERVICE_NAME,
        "replicaCount": cfg.service_replicas,
        "image": {"repository": repository, "tag": tag},
        "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
        "metadatadb": {"host": db_host, "port": db_port, "name": DB_NAME, "user": DB_USER, "password": ""},
        # Migrations run in our Job (metaflow_migrate.py), not the chart's init container (no securityContext).
        "dbMigrations": {"runOnStart": False},
        "env": [dict(e) for e in SERVICE_ENV],
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": container,
        "resources": pod_security.helm_resources("250m", "512Mi"),
        "service": {"type": "ClusterIP", "port": METAFLOW_SERVICE_PORT},
        "ingress": {"enabled": False},
    }


class Metaflow(pulumi.ComponentResource):
    """The Metaflow service and its datastore bucket and database, running flows on Argo Workflows."""
    bucket: HardenedBucket
    """The datastore (carries `refs.bucket_guard`): whoever guards or audits data buckets needs it."""
    wiring: EngineWiring
    service_url: pulumi.Output[str]
    datastore_root: pulumi.Output[str]
    user_config: pulumi.Output[str]

    def __init__(self, name: str, args: MetaflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg = args.config
        argo = [("scheduler", ARGO_NEEDED)] if cfg.scheduler == "argoWorkflows" and not (
            args.argo_base or args.argo_on_cluster) else []
        refuse(name, CONFIG_PATH, [*metaflow_own_problems(cfg), *argo, *engine_problems(
            args.refs, cfg.namespace, None, [child(name, "datastore")])])
        super().__init__("mlops:pipelines:Metaflow", name, None, args.refs.cluster.bind(opts))
        refs = args.refs.with_key(self, name)
        provider = refs.cluster.provider
        ns = engine_namespace(child(name, "namespace"), self, refs.cluster, cfg.namespace, ENGINE, level=POD_SECURITY, refs=refs)
        self.bucket = HardenedBucket(child(name, "datastore"), HardenedBucketArgs(
            kms_key=refs.key, tags=refs.tags, protect=refs.protect, vpc_endpoint_guard=refs.data_guard(self, child(name, "datastore"))),
            pulumi.ResourceOptions(parent=self))
        self.wiring = EngineWiring(child(name, "wiring"), EngineWiringArgs(
            refs=refs, engine=ENGINE, namespace=ns, service_account=FLOWS_SERVICE_ACCOUNT, user=cfg.namespace,
            statements=[{**s, "Sid": f"Datastore{s['Sid']}"}
                        for s in self.bucket.write_statements(cfg.datastore_prefix)],
            automount_token=cfg.scheduler == "argoWorkflows"),  # Argo's executor calls the API as the step pod
            pulumi.ResourceOptions(parent=self))
        self.database = metadata_database(
            self, child(name, "db"), refs, config=cfg.database, namespace=ns, db_name=DB_NAME, username=DB_USER,
            secret_name=DB_SECRET, workloads=[SERVICE_NAME], template=lambda address, port: {PASSWORD_ENV: "{{ .password }}"},
            also_watch=[ENV_SECRET] if self.wiring.mlflow_env else [])  # it carries the MLflow/Feast credentials
        service_sa = k8s.core.v1.ServiceAccount(child(name, "service-sa"), metadata={"name": SERVICE_ACCOUNT, "namespace": ns},
                                   automount_service_account_token=False, opts=child_options(self, provider=provider))
        env_secret = k8s.core.v1.Secret(
            child(name, "env"), metadata={"name": ENV_SECRET, "namespace": ns}, type="Opaque",
            # Steps read this one Secret (METAFLOW_KUBERNETES_SECRETS): it carries the MLflow credentials too.
            string_data={**self.wiring.env, **self.wiring.mlflow_env}, opts=child_options(self, provider=provider))
        if cfg.scheduler == "argoWorkflows":
            self._argo_access(name, refs, ns, args.argo_base)
        control_plane_egress(self, name, refs, namespace=ns, kubernetes_api=False,
                             pod_selector={"app.kubernetes.io/name": [SERVICE_NAME]})
        # No auth on the metadata API: only the namespace's pods (step pods, run by `--with kubernetes` or the
        # namespaced Argo controller) may call it.
        same_namespace_ingress(self, child(name, "service-ingress"), object_name=f"{SERVICE_NAME}-ingress",
                               namespace=ns, pod_labels=SERVICE_POD_LABELS, port=METAFLOW_SERVICE_PORT,
                               provider=provider)
        self._service(name, cfg, ns, service_sa, provider)
        self.service_url = pulumi.Output.format("http://{0}.{1}.svc.cluster.local:{2}", SERVICE_NAME, ns,
                                                METAFLOW_SERVICE_PORT)
        self.datastore_root = pulumi.Output.format("s3://{0}/{1}", self.bucket.bucket_name, cfg.datastore_prefix)
        gpu = gpu_scheduling(refs.gpu_pools, cfg.gpu_pool)

        image = cfg.task_image
        assert image is not None  # refused above (metaflow_own_problems)

        def render(bucket: str, url: str) -> str:
            return config_json(metaflow_user_config(MetaflowUserConfigArgs(
                bucket=bucket, datastore_prefix=cfg.datastore_prefix, datatools_prefix=cfg.datatools_prefix,
                service_url=url, namespace=cfg.namespace, service_account=FLOWS_SERVICE_ACCOUNT, image=image,
                cpu=cfg.task_cpu, memory_mib=cfg.task_memory_mib, tolerations=gpu.tolerations,
                node_selector=gpu.node_selector if cfg.gpu_pool else {}, env_secret=ENV_SECRET)))

        self.user_config = pulumi.Output.all(self.bucket.bucket_name, self.service_url).apply(
            lambda a: render(str(a[0]), str(a[1])))
        self.env_secret = env_secret
        self.register_outputs({"serviceUrl": self.service_url, "datastoreRoot": self.datastore_root,
                               "userConfig": self.user_config, "taskRoleArn": self.wiring.role_arn})

    def _service(self, name: str, cfg: MetaflowConfig, ns: pulumi.Output[str], service_sa: pulumi.Resource,
                 provider: pulumi.ProviderResource | None) -> None:
        """The migration Job (metaflow_migrate.py), then the service's release, which waits for it."""
        db_ready = [self.wiring, self.database.db.instance, *self.database.external_secrets]
        self.migration = migration_job(
            child(name, "service-migrate"), self, namespace=ns, k8s_name=f"{SERVICE_NAME}-migrate",
            image=cfg.service_image, service_account=SERVICE_ACCOUNT, pod_labels=SERVICE_POD_LABELS,
            db_env=db_env(self.database.address, self.database.port),
            depends_on=[*db_ready, service_sa], provider=provider)
        self.release = release(
            child(name, "service"), PinnedChart(METAFLOW_SERVICE_CHART, METAFLOW_SERVICE_REPO,
                                                cfg.service_chart_version),
            parent=self, namespace=ns, values=service_values(cfg, self.database.address, self.database.port),
            depends_on=[*db_ready, self.migration])

    def _argo_access(self, name: str, refs: EngineRefs, ns: pulumi.Output[str],
                     argo_base: list[pulumi.Resource]) -> None:
        """Argo's executor in each step pod writes its results through the Kubernetes API (Argo >= 3.4
        `workflowtaskresults`): that verb on that resource for the flows' account, and egress to the API for
        workflow pods only (the namespace policy admits no API)."""
        provider = refs.cluster.provider
        k8s.rbac.v1.Role(
            child(name, "argo-executor"), metadata={"name": "metaflow-argo-executor", "namespace": ns},
            rules=[{"api_groups": ["argoproj.io"], "resources": ["workflowtaskresults"],
                    "verbs": ["create", "patch"]}],
            opts=child_options(self, provider=provider))
        k8s.rbac.v1.RoleBinding(
            child(name, "argo-executor-binding"), metadata={"name": "metaflow-argo-executor", "namespace": ns},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": "metaflow-argo-executor"},
            subjects=[{"kind": "ServiceAccount", "name": FLOWS_SERVICE_ACCOUNT, "namespace": ns}],
            opts=child_options(self, provider=provider))
        api = pulumi.Output.from_input(refs.cluster.service_ipv4_cidr).apply(
            lambda cidr: [{"ip_block": {"cidr": ip}} for ip in api_service_ips(cidr)])
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]
            child(name, "argo-api-egress"), metadata={"name": "argo-executor-egress", "namespace": ns},
            spec={"pod_selector": {"match_expressions": [{"key": ARGO_WORKFLOW_LABEL, "operator": "Exists"}]},
                  "policy_types": ["Egress"],
                  "egress": [{"to": api, "ports": [{"protocol": "TCP", "port": API_SERVICE_PORT}]}]},
            opts=child_options(self, provider=provider))
        # The controller: watches this namespace only, creates the step pods through the API.
        # It waits for the Argo CRDs and the PriorityClass its pod names (KubeflowPipelines.argo_base), else the
        # Directory's apply fails on the CRs and the pod is refused admission.
        k8s.kustomize.v2.Directory(child(name, "argo"), directory=kustomize_directory(ARGO_MANIFESTS),
                                   opts=child_options(self, provider=provider, depends_on=argo_base))
        control_plane_egress(self, child(name, "argo"), refs, namespace=ns, database_port=None,
                             pod_selector={"app": [ARGO_CONTROLLER]})
