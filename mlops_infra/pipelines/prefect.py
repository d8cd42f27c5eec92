"""Prefect: a Kubernetes worker (prefect-worker chart) serving one work pool, against a self-hosted Prefect server
(prefect-server chart on the Postgres block) or Prefect Cloud.

- work pool: created by the worker with the platform's base job template (prefect_job_template.py); the chart's
  `sync-base-job-template` init container (templates/deployment.yaml, PrefectHQ/prefect-helm 2026.8.18172642)
  updates an existing pool to it on every start;
- flow runs: Jobs as `prefect-flows` (shared wiring: feature-store read, model-artifact write, the MLflow and
  feature-server env, the namespace egress policy), non-root, requests = limits, every GPU pool's taint tolerated,
  `gpu_limit` / `node_selector` job variables for GPU steps;
- self-hosted: the server's database URL is templated by External Secrets from the RDS-managed password into
  `prefect-db` (`externalDatabase.existingSecret` + `connectionStringSecretKey`), never a value; its API (port
  4200, no auth string) admits only the namespace's pods (service_ingress.py): the worker and flow runs;
- cloud: the API key reaches the namespace's Secret `api.apiKeySecret` as `PrefectArgs.cloud_api_key` says
  (prefect_cloud.py): synced from a named Secrets Manager secret by the component (alone), or delivered by the
  platform's integration secrets (securityBaseline.integrationSecrets); the worker and flow-run pods read it through
  `secretKeyRef` (`jobApiKeyPropagation: secretRef`). Prefect Cloud is on
  the internet: the namespace then admits egress to any address on 443 (no FQDN rules in NetworkPolicy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import pod_security
from ..blocks.helm import PinnedChart, release
from ..blocks.namespace import PodSecurityLevel
from ..blocks.naming import child, child_options
from ..blocks.refs import refuse as refuse_refs
from .engine_checks import engine_problems, refuse
from .prefect_cloud import PrefectCloudKey, cloud_key_problems, sync_cloud_key
from .prefect_config import (
    PREFECT_REPO,
    PREFECT_SERVER_PORT,
    PREFECT_UID,
    PrefectCloudConfig,
    PrefectConfig,
    PrefectServerConfig,
)
from .prefect_job_template import JobTemplateArgs, base_job_template, platform_env, project_yaml
from .refs import EngineRefs
from .service_ingress import same_namespace_ingress
from .wiring_common import (
    EngineWiring,
    EngineWiringArgs,
    MetadataDatabase,
    control_plane_egress,
    engine_namespace,
    gpu_scheduling,
    metadata_database,
)

ENGINE = "prefect"
"""Short engine name: labels, the namespace's child name."""
POD_SECURITY: PodSecurityLevel = "restricted"
SERVER = "prefect-server"
WORKER = "prefect-worker"
FLOWS_SERVICE_ACCOUNT = "prefect-flows"
DB_SECRET = "prefect-db"
DB_KEY = "connection-string"
HTTPS = 443
SERVER_POD_LABELS = {"app.kubernetes.io/name": SERVER, "app.kubernetes.io/component": "server"}
"""Labels of the server's pods (the chart's `common.labels.matchLabels` name and `app.kubernetes.io/component`)."""


@dataclass(frozen=True)
class PrefectArgs:
    config: PrefectConfig
    refs: EngineRefs
    """What Prefect runs on and its pods call (cluster, network, key, grants, endpoints)."""
    cloud_api_key: PrefectCloudKey | None = None
    """Prefect Cloud (`api.mode: cloud`): where the API key in the namespace's Secret `api.apiKeySecret` comes from
    (`PrefectCloudKey.from_secrets_manager(<secret ARN>)`: synced by this component; `PrefectCloudKey.delivered`:
    already delivered). Required then: None is refused. Default: None (a self-hosted server needs no key)."""


def _containers(cpu: str, memory: str) -> dict[str, Any]:
    """Security context (the chart's user 1001, every capability dropped) and resources."""
    ctx = pod_security.helm_container_security_context()
    ctx["runAsUser"] = PREFECT_UID
    return {"containerSecurityContext": ctx, "resources": pod_security.helm_resources(cpu, memory)}


def server_values(cfg: PrefectConfig) -> dict[str, Any]:
    """prefect-server chart values (tests/data/chart-values/prefect-server-<version>.yaml)."""
    return {
        "fullnameOverride": SERVER,
        "global": {"prefect": {"image": {"repository": "prefecthq/prefect",
                                         "prefectTag": f"{cfg.version}-python{cfg.python_version}"}}},
        # podSecurityContext: the chart's default (user 1001, non-root, RuntimeDefault seccomp) is kept.
        "server": {**_containers("500m", "1Gi"), "replicaCount": 1, "automountServiceAccountToken": False},
        "serviceAccount": {"create": True, "automountServiceAccountToken": False},
        "postgresql": {"enabled": False},
        "secret": {"create": False},
        "externalDatabase": {"existingSecret": DB_SECRET, "connectionStringSecretKey": DB_KEY},
        "service": {"type": "ClusterIP", "port": PREFECT_SERVER_PORT},
        "ingress": {"enabled": False},
    }


def worker_values(cfg: PrefectConfig, *, api_url: pulumi.Input[str] | None, api_key: tuple[str, str] | None,
                  template_json: pulumi.Input[str]) -> dict[str, Any]:
    """prefect-worker chart values (tests/data/chart-values/prefect-worker-<version>.yaml)."""
    worker: dict[str, Any] = {
        **_containers("250m", "512Mi"),
        "image": {"repository": "prefecthq/prefect", "prefectTag": cfg.worker_image_tag},
        "initContainer": {"containerSecurityContext": _containers("100m", "256Mi")["containerSecurityContext"],
                          "resources": pod_security.helm_resources("100m", "256Mi")},
        "config": {"workPool": cfg.work_pool, "type": "kubernetes", "installPolicy": "never",
                   "baseJobTemplate": {"configuration": template_json}},
    }
    if api_key is not None:
        api = cfg.api
        assert isinstance(api, PrefectCloudConfig)
        worker |= {"apiConfig": "cloud", "cloudApiConfig": {
            "accountId": api.account_id, "workspaceId": api.workspace_id,
            "apiKeySecret": {"name": api_key[0], "key": api_key[1]}, "jobApiKeyPropagation": "secretRef"}}
    else:
        worker |= {"apiConfig": "selfHostedServer", "selfHostedServerApiConfig": {"apiUrl": api_url}}
    return {"fullnameOverride": WORKER, "worker": worker,
            "serviceAccount": {"create": True, "name": WORKER}}


class Prefect(pulumi.ComponentResource):
    """Prefect: a self-hosted server or Prefect Cloud, and a Kubernetes worker with its base job template."""
    wiring: EngineWiring
    api_url: pulumi.Output[str]
    base_job_template: pulumi.Output[str]
    project_yaml: pulumi.Output[str]

    def __init__(self, name: str, args: PrefectArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg = args.config
        refuse(name, "orchestration.prefect", engine_problems(args.refs, cfg.namespace))
        super().__init__("mlops:pipelines:Prefect", name, None, args.refs.cluster.bind(opts))
        # The key encrypts only the self-hosted server's database (and its secret): Prefect Cloud needs none.
        refs = args.refs.with_key(self, name) if isinstance(cfg.api, PrefectServerConfig) else args.refs
        ns = engine_namespace(child(name, "namespace"), self, refs.cluster, cfg.namespace, ENGINE, level=POD_SECURITY, refs=refs)
        self.wiring = EngineWiring(child(name, "wiring"), EngineWiringArgs(
            refs=refs, engine=ENGINE, namespace=ns, service_account=FLOWS_SERVICE_ACCOUNT, user=cfg.namespace),
            pulumi.ResourceOptions(parent=self))
        # The worker creates flow-run Jobs and watches their pods through the Kubernetes API.
        control_plane_egress(self, child(name, "worker"), refs, namespace=ns, database_port=None,
                             pod_selector={"app.kubernetes.io/component": ["worker"]})
        cloud = cfg.api if isinstance(cfg.api, PrefectCloudConfig) else None
        if cloud is not None:  # before anything is built: every problem at once
            refuse_refs(name, cloud_key_problems(args.cloud_api_key, args.refs, cloud.api_key_secret))
        self.database: MetadataDatabase | None = None
        depends: list[pulumi.Resource] = [self.wiring]
        api_key: tuple[str, str] | None = None  # (Secret name, key) of the Prefect Cloud API key
        if isinstance(cfg.api, PrefectServerConfig):
            depends.append(self._server(name, cfg, cfg.api, refs, ns))
        else:
            assert cloud is not None and args.cloud_api_key is not None
            depends += self._cloud(name, cloud, args.cloud_api_key, refs, ns)
            api_key = (cloud.api_key_secret, args.cloud_api_key.secret_key)
        gpu = gpu_scheduling(refs.gpu_pools, cfg.gpu_pool)
        env = pulumi.Output.all(**{k: pulumi.Output.from_input(v) for k, v in self.wiring.env.items()})
        template = pulumi.Output.all(ns, env).apply(lambda a: base_job_template(JobTemplateArgs(
            namespace=str(a[0]), service_account=FLOWS_SERVICE_ACCOUNT, image=cfg.image, cpu=cfg.job_cpu,
            memory=cfg.job_memory, uid=PREFECT_UID, tolerations=gpu.tolerations,
            node_selector=gpu.node_selector if cfg.gpu_pool else {}, env=platform_env(dict(a[1])),
            env_secrets=self.wiring.env_secrets())))
        self.base_job_template = template.apply(lambda t: json.dumps(t, indent=2, sort_keys=True))
        self.release = release(
            child(name, "worker"), PinnedChart(WORKER, PREFECT_REPO, cfg.worker_chart_version), parent=self,
            namespace=ns, depends_on=depends,
            values=worker_values(cfg, api_url=self.api_url, api_key=api_key, template_json=self.base_job_template))
        self.project_yaml = pulumi.Output.from_input(project_yaml(
            work_pool=cfg.work_pool, prefect_version=cfg.version, image=cfg.image,
            deployments=[{"name": "train", "entrypoint": "flows/train.py:train",
                          "job_variables": {"gpu_limit": 1, **({"node_selector": gpu.node_selector}
                                                                if gpu.node_selector else {})}}]))
        self.register_outputs({"apiUrl": self.api_url, "workPool": cfg.work_pool,
                               "flowRoleArn": self.wiring.role_arn})

    def _server(self, name: str, cfg: PrefectConfig, api: PrefectServerConfig, refs: EngineRefs,
                ns: pulumi.Output[str]) -> pulumi.Resource:
        """The self-hosted server: its database, egress, ingress policy and release; sets `database`, `api_url`."""
        self.database = metadata_database(
            self, child(name, "db"), refs, config=api.database, namespace=ns, db_name="prefect",
            username="prefect", secret_name=DB_SECRET, workloads=[SERVER], also_watch=self.wiring.env_secrets(),
            template=lambda address, port: {DB_KEY: pulumi.Output.format(
                # asyncpg `ssl=require`: TLS without CA verification (RDS enforces TLS; Prefect's own TLS
                # switch verifies against the system CAs, which hold no RDS CA).
                "postgresql+asyncpg://{{{{ .username | urlquery }}}}:{{{{ .password | urlquery }}}}@{0}:{1}"
                "/prefect?ssl=require", address, port)})
        control_plane_egress(self, child(name, "server"), refs, namespace=ns, kubernetes_api=False,
                             pod_selector={"app.kubernetes.io/name": [SERVER]})
        # The API has no auth here: only the worker and flow-run pods of the namespace may call it.
        same_namespace_ingress(self, child(name, "server-ingress"), object_name=f"{SERVER}-ingress",
                               namespace=ns, pod_labels=SERVER_POD_LABELS, port=PREFECT_SERVER_PORT,
                               provider=refs.cluster.provider)
        self.api_url = pulumi.Output.format("http://{0}.{1}.svc.cluster.local:{2}/api", SERVER, ns,
                                            PREFECT_SERVER_PORT)
        # Atomic: the server must find its database and the synced Secret before the release times out.
        return release(child(name, "server"), PinnedChart(SERVER, PREFECT_REPO, api.chart_version),
                       parent=self, namespace=ns, values=server_values(cfg),
                       depends_on=[self.wiring, self.database.db.instance, *self.database.external_secrets])

    def _cloud(self, name: str, cloud: PrefectCloudConfig, key: PrefectCloudKey, refs: EngineRefs,
               ns: pulumi.Input[str]) -> list[pulumi.Resource]:
        """Prefect Cloud: its API URL, egress to it, and the API key Secret (what the worker waits for)."""
        self._internet_egress(name, ns, refs.cluster.provider)
        self.api_url = pulumi.Output.from_input(
            f"https://api.prefect.cloud/api/accounts/{cloud.account_id}/workspaces/{cloud.workspace_id}")
        return sync_cloud_key(self, child(name, "cloud-key"), refs, key, namespace=ns, secret_name=cloud.api_key_secret)

    def _internet_egress(self, name: str, ns: pulumi.Input[str], provider: pulumi.ProviderResource | None) -> None:
        """Prefect Cloud: the worker and flow runs call its API on the internet (HTTPS only)."""
        k8s.networking.v1.NetworkPolicy(
            child(name, "cloud-egress"), metadata={"name": "prefect-cloud-egress", "namespace": ns},
            spec={"pod_selector": {}, "policy_types": ["Egress"],
                  "egress": [{"to": [{"ip_block": {"cidr": "0.0.0.0/0"}}],
                              "ports": [{"protocol": "TCP", "port": HTTPS}]}]},
            opts=child_options(self, provider=provider))
