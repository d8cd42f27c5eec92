"""The whole platform's config, read from the stack's `mlops:platform` structured config value."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field

from ..compute.config import ClusterConfig, system_node_ephemeral_gib
from ..compute.gpu_config import GpuPlatformConfig, GpuPoolConfig
from ..compute.gpu_config import region_problems as gpu_region_problems
from ..config.base import ConfigModel, Problem
from ..config.budget import BudgetConfig
from ..config.environments import Environment
from ..config.regions import region_problems
from ..config.types import AwsRegion, ResourceName
from ..data.config import DataConfig
from ..features.config import FeastFeatureStoreConfig, FeatureStoreConfig
from ..network.config import NetworkConfig
from ..observability.config import MonitoringConfig
from ..pipelines.config import OrchestrationConfig
from ..pipelines.metaflow_config import metaflow_problems
from ..pipelines.prefect_config import prefect_problems
from ..registry.config import INGRESS_NEEDS, MlflowModelRegistryConfig, ModelRegistryConfig
from ..security.config import SecurityBaselineConfig
from ..serving.config import ServingConfig, ServingEngineConfig
from .add_ons_elsewhere import ESO_FIX, elsewhere_problems, gpu_elsewhere_problems, platform_add_ons, runs_external_secrets

DataClassification = Literal["public", "internal", "confidential", "restricted"]


class TagsConfig(ConfigModel):
    """Cost and ownership tags. Components pass them explicitly; nothing is injected behind your back."""

    owner: str = Field(..., min_length=1, description="Owning team or person. Required.")
    cost_center: str = Field(..., min_length=1, description="Cost center code. Required.")
    data_classification: DataClassification = Field("internal", description="Data classification. Default: internal.")
    extra: dict[str, str] = Field(default_factory=dict, description="Additional tags. Default: none.")

    def for_environment(self, environment: str) -> dict[str, str]:
        """The tag set every resource carries: the four required keys plus `extra`."""
        return {
            **self.extra,
            "owner": self.owner,
            "cost-center": self.cost_center,
            "environment": environment,
            "data-classification": self.data_classification,
        }


class PlatformConfig(ConfigModel):
    """Top-level platform config. Environment profiles (see `environments.py`) fill unset keys."""

    environment: Environment = Field(..., description="dev, staging or prod; selects the profile. Required.")
    name: ResourceName = Field("mlops", description="Prefix for resource names. Default: mlops.")
    region: AwsRegion = Field("us-east-1", description="AWS region. Default: us-east-1.")
    tags: TagsConfig = Field(..., description="Cost and ownership tags. Required.")
    protect_stateful: bool = Field(
        True, description="Pulumi `protect` and `retainOnDelete` on stateful resources. Default: true "
        "(profiles: dev/staging false).")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="VPC.")
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="EKS cluster.")
    gpu: GpuPlatformConfig = Field(default_factory=GpuPlatformConfig, description="GPU provisioning and software.")
    gpu_pools: list[GpuPoolConfig] = Field(default_factory=list, description="GPU node pools. Default: none.")
    feature_store: FeatureStoreConfig = Field(default_factory=FeastFeatureStoreConfig, description="Feature store.")
    model_registry: ModelRegistryConfig = Field(default_factory=MlflowModelRegistryConfig, description="Model registry.")
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig, description="Monitoring stack.")
    security_baseline: SecurityBaselineConfig = Field(
        default_factory=SecurityBaselineConfig, description="Security baseline.")
    orchestration: OrchestrationConfig = Field(default_factory=OrchestrationConfig, description="Orchestrators.")
    data: DataConfig = Field(default_factory=DataConfig, description="Data versioning and vector search.")
    serving: ServingEngineConfig = Field(default_factory=ServingConfig,
                                         description="Model serving: engine kserve (default) or sagemaker.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig,
                                 description="Monthly cost ceilings and cost-estimate assumptions (`mlops-infra cost`).")

    @property
    def resource_tags(self) -> dict[str, str]:
        return self.tags.for_environment(self.environment)

    @property
    def feast(self) -> FeastFeatureStoreConfig | None:
        """The feature store's config when it is on and runs Feast (on the cluster); else None."""
        fs = self.feature_store
        return fs if isinstance(fs, FeastFeatureStoreConfig) and fs.enabled else None

    @property
    def mlflow(self) -> MlflowModelRegistryConfig | None:
        """The model registry's config when it is on and runs MLflow (on the cluster); else None."""
        reg = self.model_registry
        return reg if isinstance(reg, MlflowModelRegistryConfig) and reg.enabled else None

    @property
    def namespaces(self) -> set[str]:
        """Kubernetes namespaces the platform creates."""
        names = {t.name for t in self.cluster.teams}
        if self.feast is not None:
            names.add(self.feast.namespace)
        if self.mlflow is not None:
            names.add(self.mlflow.namespace)
        if self.monitoring.enabled:
            names.add(self.monitoring.namespace)
        names |= self.orchestration.namespaces
        names |= self.data.namespaces
        if self.serving.enabled and isinstance(self.serving, ServingConfig):
            names.add(self.serving.namespace)
        return names

    def secret_refs(self) -> Iterable[tuple[str, str]]:
        """(config path, config key) of every reference to a secret config key."""
        recv = self.monitoring.receivers
        if recv.slack_webhook_secret:
            yield "monitoring.receivers.slackWebhookSecret", recv.slack_webhook_secret
        if recv.pagerduty_key_secret:
            yield "monitoring.receivers.pagerdutyKeySecret", recv.pagerduty_key_secret
        if recv.heartbeat_url_secret:
            yield "monitoring.receivers.heartbeatUrlSecret", recv.heartbeat_url_secret
        reg = self.model_registry
        if isinstance(reg, MlflowModelRegistryConfig) and reg.ingress.oidc_client_secret:
            yield "modelRegistry.ingress.oidcClientSecret", reg.ingress.oidc_client_secret
        for i, sec in enumerate(self.security_baseline.integration_secrets):
            yield f"securityBaseline.integrationSecrets[{i}].configKey", sec.config_key

    def problems(self) -> Iterable[Problem]:
        seen: set[str] = set()
        for i, pool in enumerate(self.gpu_pools):
            if pool.name in seen:
                yield f"gpuPools[{i}].name", f"duplicate pool name {pool.name!r}"
            seen.add(pool.name)
            if pool.efa and self.gpu.provisioner == "karpenter":
                yield f"gpuPools[{i}].efa", "EFA placement groups need provisioner managedNodeGroups"
        yield from gpu_region_problems(self.gpu_pools, self.region)
        known = self.namespaces
        for i, sec in enumerate(self.security_baseline.integration_secrets):
            for j, ns in enumerate(sec.namespaces):
                if ns not in known:
                    yield (f"securityBaseline.integrationSecrets[{i}].namespaces[{j}]",
                           f"unknown namespace {ns!r} (known: {', '.join(sorted(known)) or 'none'})")
        if self.cluster.public_access_cidrs and not self.cluster.endpoint_public_access:
            yield "cluster.publicAccessCidrs", "set, but endpointPublicAccess is false"
        yield from cluster_network_problems(self.cluster, self.network)
        yield from isolated_vpc_problems(self)
        yield from existing_vpc_problems(self)
        yield from guard_network_problems(self.security_baseline, self.network, self.cluster, self.name)
        if self.mlflow is not None and self.mlflow.ingress.enabled and not self.cluster.runs_load_balancer_controller:
            yield "modelRegistry.ingress.enabled", INGRESS_NEEDS
        consumers = sorted({t.name for t in self.cluster.teams} | self.orchestration.namespaces)
        if self.mlflow is not None and self.mlflow.loopback_only and consumers:
            # Consumers get the in-cluster URL, which then leads only through oauth2-proxy (IdP bearer tokens): the
            # basic-auth users and their `mlflow-credentials` exist only with MLflow's basic-auth app.
            yield "modelRegistry.inClusterAuth", (
                "with ingress auth oidc the server listens only behind oauth2-proxy, so the namespaces that log runs "
                f"({', '.join(consumers)}) would need IdP bearer tokens the platform cannot issue: set "
                "modelRegistry.inClusterAuth false (in-cluster clients then call the Service without a login) or "
                "modelRegistry.ingress.auth basic (every client gets a basic-auth user)")
        private = len(self.network.existing_vpc.private_subnet_ids) if self.network.existing_vpc else self.network.az_count
        yield from orchestration_problems(self)
        yield from data_problems(self)
        yield from component_namespace_problems(self.orchestration, self.data)
        yield from workspace_problems(self)
        yield from serving_problems(self)
        yield from elsewhere_problems(self.cluster, platform_add_ons(
            self.cluster, self.gpu, self.gpu_pools, self.monitoring, self.security_baseline, self.serving, self.orchestration))
        yield from gpu_elsewhere_problems(self.cluster, self.gpu_pools)
        if isinstance(self.feature_store, FeastFeatureStoreConfig):
            for path, msg in self.feature_store.network_problems(private):
                yield f"featureStore.{path}", msg

    def context_problems(self, context: Mapping[str, Any]) -> Iterable[Problem]:
        yield from region_problems(self.region, context["aws_region"]) if "aws_region" in context else ()
        secret_keys = context.get("secret_keys")
        if secret_keys is None:  # validating without a stack: nothing to check against
            return
        for path, key in self.secret_refs():
            if key not in secret_keys:
                yield path, f"config key 'mlops:{key}' is not set as a secret (pulumi config set --secret {key} ...)"


# Checks across concerns live here, with the config that composes them (concern configs import no other concern).
def cluster_network_problems(cluster: ClusterConfig, network: NetworkConfig) -> Iterable[Problem]:
    """Checks across `cluster` and `network` (paths from the platform root): CIDRs that must not overlap the VPC."""
    vpc = ipaddress.ip_network(network.vpc_cidr)
    if cluster.endpoint_public_access:
        for i, cidr in enumerate(cluster.public_access_cidrs):
            net = ipaddress.ip_network(cidr)
            if net.version == 4 and net.prefixlen > 0 and net.overlaps(vpc):
                yield (f"cluster.publicAccessCidrs[{i}]",
                       f"{cidr} overlaps the VPC CIDR {network.vpc_cidr} (the public endpoint only sees public "
                       "source addresses; in-VPC clients use the private endpoint)")
    if cluster.service_ipv4_cidr is not None and ipaddress.ip_network(cluster.service_ipv4_cidr).overlaps(vpc):
        yield "cluster.serviceIpv4Cidr", f"{cluster.service_ipv4_cidr} overlaps the VPC CIDR {network.vpc_cidr}"


# Where the platform's images come from (chart defaults and mlops_infra's own pins). None of these registries has a
# VPC endpoint (ECR's `ecr.api`/`ecr.dkr` endpoints serve private ECR only, not ECR Public), so without NAT every pod
# pulling from them ends in ImagePullBackOff.
PUBLIC_REGISTRIES = ("docker.io", "quay.io", "ghcr.io", "nvcr.io", "registry.k8s.io", "public.ecr.aws")


def isolated_vpc_problems(config: PlatformConfig) -> Iterable[Problem]:
    """`natGateways: none` on a created VPC is refused: the platform's images come from public registries that no
    VPC endpoint reaches (and Karpenter's IAM and Pricing calls have none either). Running without NAT would need
    every image mirrored into private ECR (a pull-through cache) and rewritten, which the platform does not do."""
    if config.network.existing_vpc is None and config.network.nat_gateways == "none":
        yield ("network.natGateways",
               f"`none` is not supported: the platform's images come from {', '.join(PUBLIC_REGISTRIES)}, which no "
               "VPC endpoint reaches, so pods would never pull them (ImagePullBackOff); use natGateways single (one "
               "NAT gateway) or perAz (one per zone)")


def effective_deployer_role_arns(security: SecurityBaselineConfig, cluster: ClusterConfig) -> list[str]:
    """`securityBaseline.deployerRoleArns`, else `cluster.adminRoleArns` (the documented default)."""
    if security.deployer_role_arns is not None:
        return list(security.deployer_role_arns)
    return list(cluster.admin_role_arns)


def guard_network_problems(security: SecurityBaselineConfig, network: NetworkConfig,
                           cluster: ClusterConfig, name: str) -> Iterable[Problem]:
    """What exfiltration guards need from the network: the S3 gateway endpoint the data buckets admit, deployers, and
    consumer bucket prefixes clear of the platform's names (`<name>-<environment>-*`, as stacks/__main__.py names it)."""
    if not (security.enabled and security.exfiltration_guards):
        return
    if not effective_deployer_role_arns(security, cluster):
        yield ("securityBaseline.deployerRoleArns",
               "required when exfiltrationGuards is true and cluster.adminRoleArns is empty: the role that runs "
               "`pulumi up` must be exempt from the data buckets' VPC-endpoint condition, or it cannot read or change "
               "them")
    existing = network.existing_vpc
    if existing is not None and existing.s3_gateway_endpoint_id is None:
        yield ("network.existingVpc.s3GatewayEndpointId",
               "required when securityBaseline.exfiltrationGuards is true (data buckets deny S3 access that does not "
               "come through this endpoint)")
    yield from ((f"securityBaseline.{path}", msg) for path, msg in security.consumer_prefix_problems(name))
    # STS for IRSA pods behind egress policies: its interface endpoint comes with any egress guard (issue 28 #7).


def existing_vpc_problems(config: PlatformConfig) -> Iterable[Problem]:
    """An existing VPC gets no endpoint from the platform: egress-guarded pods need the VPC's own (review net #3)."""
    existing = config.network.existing_vpc
    if existing is None or not egress_guarded(config):
        return
    for service in workload_endpoint_services(config):
        if service not in existing.interface_endpoint_ids:
            yield (f"network.existingVpc.interfaceEndpointIds.{service}",
                   f"required: egress-guarded pods call {service}, and their NetworkPolicies admit only the VPC "
                   "CIDR (the platform creates no endpoint in an existing VPC)")
    if uses_dynamodb(config) and existing.dynamodb_gateway_endpoint_id is None:
        yield ("network.existingVpc.dynamodbGatewayEndpointId",
               "required: egress-guarded pods use DynamoDB (Feast's online store) through its gateway endpoint")


def egress_guarded(config: PlatformConfig) -> bool:
    """Some namespace denies egress by default: the exfiltration guards' ML namespaces, or an orchestrator's (every
    engine's namespace gets `EngineWiring`'s egress policy)."""
    sb = config.security_baseline
    return (sb.enabled and sb.exfiltration_guards) or bool(config.orchestration.namespaces)


def uses_dynamodb(config: PlatformConfig) -> bool:
    """Feast's online store is DynamoDB: pods granted it reach the DynamoDB gateway endpoint's prefix list."""
    return config.feast is not None and config.feast.online.type == "dynamodb"


def workload_endpoint_services(config: PlatformConfig) -> list[str]:
    """Interface endpoints pods behind egress policies need, which admit the VPC CIDR but cannot name a service's
    public addresses (no prefix list exists for them): STS for IRSA (AssumeRoleWithWebIdentity), Athena and Glue
    for Feast's Athena offline store. None when no namespace is egress-guarded (NAT serves them)."""
    if not egress_guarded(config):
        return []
    out = ["sts"] if config.cluster.workload_identity == "irsa" else []
    if config.feast is not None and config.feast.offline.engine == "athena":
        out += ["athena", "glue"]
    return list(dict.fromkeys(out))


def orchestration_problems(config: PlatformConfig) -> Iterable[Problem]:
    """Orchestrators need the GPU pools they name, and External Secrets for their database credentials."""
    orch, pools = config.orchestration, [p.name for p in config.gpu_pools]
    for path, msg in (*orch.gpu_pool_problems(pools), *orch.ingress_problems(config.cluster.runs_load_balancer_controller)):
        yield f"orchestration.{path}", msg
    sb = config.security_baseline
    yield from ((f"orchestration.metaflow.{path}", msg) for path, msg in metaflow_problems(
        orch.metaflow, kubeflow_pipelines=orch.kubeflow_pipelines.enabled, gpu_pools=pools))
    yield from ((f"orchestration.prefect.{path}", msg) for path, msg in prefect_problems(
        orch.prefect, gpu_pools=pools, integration_secrets={s.name: s.namespaces for s in sb.integration_secrets}))
    needs_eso = (orch.airflow.enabled or orch.kubeflow_pipelines.enabled or orch.metaflow.enabled
                 or orch.prefect.enabled)
    if needs_eso and not runs_external_secrets(config.cluster, config.security_baseline):
        yield ("orchestration", "Airflow, Kubeflow Pipelines, Metaflow and Prefect read their database password (or "
               f"Prefect Cloud key) through External Secrets: {ESO_FIX}")
    if needs_eso and config.cluster.workload_identity != "irsa":
        # Their database SecretStores authenticate as an IRSA ServiceAccount of the engine's namespace; under Pod
        # Identity External Secrets would use its own role, which reads no database secret (nothing syncs).
        yield ("orchestration", "Airflow, Kubeflow Pipelines, Metaflow and Prefect read their database password "
               "through a SecretStore that authenticates with an IRSA ServiceAccount token: set "
               "cluster.workloadIdentity irsa")


def component_namespace_problems(orchestration: OrchestrationConfig, data: DataConfig) -> Iterable[Problem]:
    """Enabled data and orchestration components (platform or consumer stack) need namespaces of their own: each
    puts fixed-name objects in its namespace (the rotation restarter's SA, Role...), which two would both create."""
    owners = [*((f"orchestration.{p}", ns) for p, ns in orchestration.namespace_owners()),
              *((f"data.{p}", ns) for p, ns in data.namespace_owners())]
    first: dict[str, str] = {}
    for path, ns in owners:
        if ns in first:
            yield path, f"namespace {ns!r} is already {first[ns]}'s: give each enabled component its own namespace"
        first.setdefault(ns, path)


def workspace_problems(config: PlatformConfig) -> Iterable[Problem]:
    """Team workspaces (`cluster.workspaces`) get their credentials through External Secrets with IRSA
    (platform/workspace_credentials.py), under MLflow usernames that must name no other consumer."""
    taken = {t.name for t in config.cluster.teams} | config.orchestration.namespaces | {"admin"}
    for i, ws in enumerate(config.cluster.workspaces):
        if ws in taken or config.cluster.workspaces.index(ws) != i:
            yield (f"cluster.workspaces[{i}]", f"{ws!r} is already a team's, an orchestrator's, another workspace's "
                   "or MLflow's admin user name")
    if not config.cluster.workspaces:
        return
    feast = config.feast
    if feast and (feast.registry == "sql" or (feast.online.type == "redis" and feast.online.redis_auth == "rbac")):
        yield ("cluster.workspaces", "workspaces get MLflow and Qdrant credentials but no Feast logins yet, and this "
               "feature store needs one (featureStore.registry sql, or a redis online store with redisAuth rbac): "
               "run the workspace's Feast clients in a team namespace (cluster.teams) or use registry s3 with dynamodb")
    if not runs_external_secrets(config.cluster, config.security_baseline) or config.cluster.workload_identity != "irsa":
        yield ("cluster.workspaces", "a workspace's credentials reach it only through External Secrets with IRSA: "
               f"set cluster.workloadIdentity irsa; External Secrets: {ESO_FIX}")


def qdrant_scratch_problems(config: PlatformConfig) -> Iterable[Problem]:
    """The snapshot job stages a collection snapshot on node disk and requests `storageSize` of ephemeral storage;
    without a nodeSelector it runs on system nodes (GPU pools are tainted), so one must be able to hold it."""
    qdrant = config.data.qdrant
    if qdrant.node_selector:
        return  # the operator's nodes: their disks are not in this config
    size = int(qdrant.storage_size.removesuffix("Gi"))
    disk = config.cluster.system_nodes.disk_size_gib
    room = system_node_ephemeral_gib(disk)
    if size > room:
        yield ("data.qdrant.storageSize",
               f"{size}Gi does not fit the snapshot job's scratch space on a system node: it requests storageSize "
               f"of ephemeral storage, at most int(0.9 x cluster.systemNodes.diskSizeGib) - 1 = {room}Gi for "
               f"{disk} GiB (kubelet keeps 1Gi and 10% back); raise diskSizeGib or lower storageSize")


def data_problems(config: PlatformConfig) -> Iterable[Problem]:
    """LakeFS reads its database and auth secrets through External Secrets, with a SecretStore that authenticates
    as an IRSA ServiceAccount of its own namespace."""
    if config.data.qdrant.enabled:
        if not runs_external_secrets(config.cluster, config.security_baseline):
            yield ("data.qdrant.enabled", f"Qdrant's API keys reach the cluster only through External Secrets: {ESO_FIX}")
        if config.cluster.workload_identity != "irsa":
            yield ("data.qdrant.enabled", "Qdrant's secret stores authenticate with IRSA ServiceAccount tokens: "
                   "set cluster.workloadIdentity irsa")
        yield from qdrant_scratch_problems(config)
    if not config.data.lakefs.enabled:
        return
    if not runs_external_secrets(config.cluster, config.security_baseline):
        yield ("data.lakefs.enabled", f"LakeFS reads its database and auth secrets through External Secrets: {ESO_FIX}")
    if config.cluster.workload_identity != "irsa":
        yield ("data.lakefs.enabled", "LakeFS's SecretStore authenticates with an IRSA ServiceAccount token: "
               "set cluster.workloadIdentity irsa")


def serving_problems(config: PlatformConfig) -> Iterable[Problem]:
    """Serving reads models from the MLflow registry's artifact bucket, exposes them through the ALB controller,
    publicly only in prod, and runs GPU models on a pool with a taint of its own."""
    srv = config.serving
    if not srv.enabled:
        return
    if config.mlflow is None:
        yield "serving.enabled", "serving reads models from the MLflow registry's artifact bucket: enable modelRegistry"
    if not isinstance(srv, ServingConfig):
        return
    if srv.exposure.ingress and not config.cluster.runs_load_balancer_controller:
        yield "serving.exposure.mode", INGRESS_NEEDS
    if srv.exposure.mode == "public" and config.environment != "prod":
        yield "serving.exposure.mode", f"public endpoints are for prod only (environment {config.environment})"
    pools = {p.name: p for p in config.gpu_pools}
    for i, model in enumerate(srv.models):
        if model.gpu_pool is None:
            continue
        pool = pools.get(model.gpu_pool)
        if pool is None:
            yield f"serving.models[{i}].gpuPool", f"unknown GPU pool {model.gpu_pool!r} (gpuPools: {sorted(pools)})"
            continue
        others = {(p.taint.key, p.taint.value) for p in config.gpu_pools if p.name != pool.name and p.taint}
        if pool.taint is None or (pool.taint.key, pool.taint.value) in others:
            yield (f"serving.models[{i}].gpuPool", f"pool {pool.name!r} needs a taint of its own (inference pods "
                   "tolerate only it; e.g. key mlops.io/inference)")
