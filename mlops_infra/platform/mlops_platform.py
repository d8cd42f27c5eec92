"""MlopsPlatform: composes the platform's components from one validated config."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule, VpcEndpointGuard
from ..blocks.cluster_add_ons import installed
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.namespace import PLATFORM_CLIENT, namespace
from ..blocks.naming import child
from ..blocks.postgres import POSTGRES_PORT
from ..blocks.refs import ClusterRefs
from ..blocks.stack_identity import this_stack
from ..compute.cluster import TrainingCluster, TrainingClusterArgs
from ..compute.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from ..compute.cluster_autoscaler import needed as autoscaler_needed
from ..compute.gpu_pool import GpuNodePool, GpuNodePoolArgs
from ..compute.gpu_software import GpuSoftware, GpuSoftwareArgs
from ..compute.karpenter import Karpenter, KarpenterArgs
from ..compute.observability import ClusterObservability, ClusterObservabilityArgs
from ..features.feast_store import FeastFeatureStore
from ..features.feature_store import FeatureStore, FeatureStoreArgs
from ..features.feature_store_consumers import CREDENTIALS_SECRET as FEAST_CREDENTIALS
from ..features.feature_store_online import REDIS_PORT
from ..features.sagemaker_store import SageMakerFeatureStore
from ..network.network import Network, NetworkArgs
from ..observability.core import MonitoringCore, MonitoringCoreArgs
from ..outputs import core_outputs
from ..registry.mlflow_registry import MlflowRegistry
from ..registry.mlflow_users import CREDENTIALS_SECRET as MLFLOW_CREDENTIALS
from ..registry.model_registry import ModelRegistry, ModelRegistryArgs
from ..registry.sagemaker_registry import SageMakerRegistry
from ..security.exfiltration_guards import data_bucket_guard
from ..security.security_baseline import (
    BucketGuards,
    BucketGuardsArgs,
    SecurityBaseline,
    SecurityBaselineArgs,
    bucket_guards,
)
from ..serving.config import ServingConfig
from ..serving.model_serving import CERT_MANAGER_NAMESPACE, KSERVE_NAMESPACE
from .addons import PlatformContext
from .config import PlatformConfig, effective_deployer_role_arns, uses_dynamodb, workload_endpoint_services
from .installed import build_add_ons
from .loader import CONFIG_NAMESPACE
from .team_workspace import workspace_terms
from .workspace_credentials import workspace_credentials


def secret_config(key: str) -> pulumi.Output[str]:
    """A secret of the `mlops` namespace, as `mlops_infra.stack.secret_config` reads it (the platform package does not
    import `mlops_infra.stack`, the layer above it that reads the platform's config)."""
    return pulumi.Config(CONFIG_NAMESPACE).require_secret(key)


def _secret(key: str | None) -> pulumi.Output[str] | None:
    return secret_config(key) if key else None


def feature_clients(config: PlatformConfig) -> list[str]:
    """Namespaces the feature server admits (besides Prometheus): the teams, and the orchestrators, whose task pods
    get its URL."""
    return sorted({t.name for t in config.cluster.teams} | config.orchestration.namespaces)


def feast_vpc_ports(config: PlatformConfig) -> list[int]:
    """The VPC ports of the Feast stores whose logins consumers hold: the SQL registry's, Redis's (RBAC)."""
    feast = config.feast
    if feast is None:
        return []
    redis = feast.online.type == "redis" and feast.online.redis_auth == "rbac"
    return [*([POSTGRES_PORT] if feast.registry == "sql" else []), *([REDIS_PORT] if redis else [])]


def network_args(config: PlatformConfig, name: str, tags: dict[str, str], protect: bool) -> NetworkArgs:
    """The VPC with the endpoints the cluster and the egress-guarded pods need (platform/config.py says which)."""
    return NetworkArgs(config=config.network, region=config.region, cluster_name=name, tags=tags,
                       private_cluster=not config.cluster.endpoint_public_access, protect=protect,
                       workload_endpoints=workload_endpoint_services(config), dynamodb_endpoint=uses_dynamodb(config))


def platform_namespaces(config: PlatformConfig) -> list[str]:
    """Every namespace the platform creates (the `platformNamespaces` output): its services', engines' and teams'
    (`PlatformConfig.namespaces`) and its system components' (training operator, GPU software, External Secrets,
    KServe with cert-manager). tests/platform/test_platform_namespaces.py holds it equal to the plan's Namespaces."""
    cluster, sb, serving = config.cluster, config.security_baseline, config.serving
    elsewhere = cluster.add_ons_elsewhere  # another stack's add-ons: their namespaces are that stack's
    system = [(cluster.training_operator.chart is not None, cluster.training_operator.namespace),
              (bool(config.gpu_pools) and "gpuSoftware" not in elsewhere, config.gpu.namespace),
              (sb.enabled and sb.external_secrets, sb.external_secrets_namespace),
              *((serving.enabled and isinstance(serving, ServingConfig) and "kserve" not in elsewhere, ns)
                for ns in (KSERVE_NAMESPACE, CERT_MANAGER_NAMESPACE))]
    return sorted(config.namespaces | {ns for built, ns in system if built})


def mlflow_clients(config: PlatformConfig) -> list[str]:
    """Namespaces whose pods call the tracking server: the teams and the orchestrators (their task pods log runs)."""
    return sorted({t.name for t in config.cluster.teams} | config.orchestration.namespaces)


class MlopsPlatform(pulumi.ComponentResource):
    """The whole platform for one environment. Its outputs are the contract consumer stacks rely on
    (`mlops_infra.outputs.CONTRACT`). Order: network, cluster, GPU capacity, monitoring (it installs the CRDs
    the others' ServiceMonitors need), feature store, model registry, security baseline."""

    feature_store: FeastFeatureStore | SageMakerFeatureStore | None
    model_registry: MlflowRegistry | SageMakerRegistry | None
    monitoring: MonitoringCore | None
    security: SecurityBaseline | None

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:platform:MlopsPlatform", name, None, opts)
        self._name, self.config = name, config
        self.tags = tags = config.resource_tags
        protect = config.protect_stateful
        child_opts = pulumi.ResourceOptions(parent=self)

        self.network = Network(child(name, "net"), network_args(config, name, tags, protect), child_opts)
        self.cluster = TrainingCluster(child(name, "eks"), TrainingClusterArgs(
            config=config.cluster, network=self.network.refs, region=config.region, tags=tags,
            protect=protect, cluster_name=name), child_opts)
        self._compute(config, child_opts)  # core components bind to the cluster's provider themselves
        cluster_refs = self._with_service_namespaces()

        self.data_key = KmsKey(child(name, "data-key"), KmsKeyArgs(
            description=f"{name} platform data", tags=tags, protect=protect), child_opts)
        self.shared_bucket = HardenedBucket(child(name, "shared"), HardenedBucketArgs(
            kms_key=self.data_key, tags=tags, protect=protect,
            lifecycle=[LifecycleRule(id="expire-scratch", prefix="scratch/", expiration_days=30)]), child_opts)

        deployers = effective_deployer_role_arns(config.security_baseline, config.cluster)
        guard = data_bucket_guard(config.security_baseline, self.network.refs, deployers)
        self.monitoring = self._monitoring(cluster_refs, child_opts) if config.monitoring.enabled else None
        monitoring = self.monitoring.refs if self.monitoring else None
        fs, reg = config.feature_store, config.model_registry
        self.feature_store = FeatureStore(child(name, "features"), FeatureStoreArgs(
            config=fs, tags=tags, network=self.network.refs, cluster=cluster_refs, protect=protect,
            kms_key=self.data_key, bucket_guard=guard, monitoring=monitoring, client_namespaces=feature_clients(config),
            credentials_secret_name=FEAST_CREDENTIALS), child_opts) if fs.enabled else None
        self.model_registry = ModelRegistry(child(name, "registry"), ModelRegistryArgs(
            config=reg, tags=tags, network=self.network.refs, cluster=cluster_refs, protect=protect,
            monitoring=monitoring, client_namespace_labels=PLATFORM_CLIENT,  # team workspaces of other stacks
            oidc_client_secret=_secret(config.mlflow.ingress.oidc_client_secret if config.mlflow else None),
            name_prefix=f"{config.name}-{config.environment}", bucket_guard=guard,
            # Admitted by the server's NetworkPolicy (with Prometheus), and with MLflow basic auth (prod) each with its own
            # user and credentials: the teams' from the registry, the orchestrators' from their wiring (made later).
            client_namespaces=mlflow_clients(config),
            team_namespaces=sorted({t.name for t in config.cluster.teams}),
            # ...and the team workspaces of other stacks (platform/workspace_credentials.py delivers theirs).
            client_users=sorted(config.orchestration.namespaces | set(config.cluster.workspaces)),
            credentials_secret_name=MLFLOW_CREDENTIALS), child_opts) \
            if reg.enabled else None
        # First what every add-on needs: the security baseline's External Secrets operator (and the data key and
        # guard above). Then the add-ons, which add what their components expose (buckets, service ports) to plain
        # lists. Last what must know every bucket: the trail and the exfiltration guards, from those lists. An add-on
        # that fails stops the program before either registers, so neither is ever narrowed.
        self.data_buckets: list[pulumi.Output[str]] = [c.arn for c in (
            self.feature_store.bucket if self.feature_store else None,
            self.model_registry.artifacts if self.model_registry else None) if c]
        self.platform_buckets: list[pulumi.Output[str]] = [self.shared_bucket.arn]
        self.security = self._security(cluster_refs, child_opts) if config.security_baseline.enabled else None
        # The add-ons' context still carries bound options (until they bind through `cluster.bind` themselves).
        k8s_opts = pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.cluster.provider})
        ctx = self._context(cluster_refs, k8s_opts, guard)
        self.add_on_outputs = build_add_ons(ctx)
        self.workspace_credentials = self._workspaces(ctx)
        self.guards = self._guards(self.security, cluster_refs, ctx) if self.security is not None else None

        self.outputs = {**self._outputs(), **self.add_on_outputs}
        self.register_outputs(dict(self.outputs))

    def _compute(self, config: PlatformConfig, child_opts: pulumi.ResourceOptions) -> None:
        """GPU capacity: managed node groups per pool, or Karpenter; then the NVIDIA software on it."""
        name, tags = self._name, self.tags
        if config.gpu.provisioner == "karpenter":
            Karpenter(child(name, "karpenter"), KarpenterArgs(
                config=config.gpu, pools=config.gpu_pools, cluster=self.cluster.refs, network=self.network.refs,
                nodes=self.cluster.node_refs, region=config.region, tags=tags), child_opts)
        else:
            for pool in config.gpu_pools:
                GpuNodePool(child(name, f"gpu-{pool.name}"), GpuNodePoolArgs(
                    config=pool, cluster=self.cluster.refs, network=self.network.refs, nodes=self.cluster.node_refs,
                    tags=tags), child_opts)
        if config.gpu_pools and "gpuSoftware" not in config.cluster.add_ons_elsewhere:  # else the cluster's own
            GpuSoftware(child(name, "gpu-software"), GpuSoftwareArgs(
                config=config.gpu, pools=config.gpu_pools, cluster=self.cluster.refs), child_opts)
        if autoscaler_needed(config.cluster.system_nodes, config.gpu, config.gpu_pools):
            ClusterAutoscaler(child(name, "autoscaler"), ClusterAutoscalerArgs(
                cluster=self.cluster.refs, region=config.region, tags=tags,
                chart_version=config.gpu.cluster_autoscaler_version), child_opts)

    def _with_service_namespaces(self) -> ClusterRefs:
        """The feature store's and MLflow's namespaces, created once here (restricted pod security) and handed to
        every component that uses them."""
        config, namespaces = self.config, dict(self.cluster.refs.namespaces)
        wanted = [c.namespace for c in (config.feast, config.mlflow) if c is not None]
        for ns in wanted:
            if ns not in namespaces:
                namespaces[ns] = namespace(child(self._name, f"ns-{ns}"), self, ns, level="restricted",
                                           provider=self.cluster.provider)
        # An External Secrets operator another stack installed: its store tells the components it runs (the
        # platform's own operator is handed to them instead, `PlatformContext.external_secrets`).
        return dataclasses.replace(self.cluster.refs, namespaces=namespaces,
                                   external_secrets_store=config.cluster.external_secrets_store)

    def _workspaces(self, ctx: PlatformContext) -> dict[str, Any]:
        """The listed team workspaces' credentials (MLflow user, Qdrant key), after the add-ons that share keys."""
        qdrant = ctx.workspace_qdrant[0] if ctx.workspace_qdrant else None
        qdrant_key, qdrant_url = (qdrant.client_key_secret, qdrant.url) if qdrant else (None, None)
        return workspace_credentials(
            child(self._name, "workspace"), self, workspaces=list(self.config.cluster.workspaces),
            cluster=ctx.cluster.identity, region=self.config.region, data_key=self.data_key, tags=self.tags,
            mlflow_passwords=ctx.mlflow_credentials, qdrant_key=qdrant_key, qdrant_url=qdrant_url,
            recovery_window_days=self.config.security_baseline.secret_recovery_window_days)

    def _monitoring(self, cluster_refs: ClusterRefs, opts: pulumi.ResourceOptions) -> MonitoringCore:
        """The monitoring core, then the cluster's contribution to it (the feature store and the model registry
        contribute their own, given `core.refs`)."""
        config, name = self.config, self._name
        recv = config.monitoring.receivers
        core = MonitoringCore(child(name, "monitoring"), MonitoringCoreArgs(
            config=config.monitoring, cluster=cluster_refs, region=config.region, tags=self.tags,
            protect=config.protect_stateful, slack_webhook_url=_secret(recv.slack_webhook_secret),
            pagerduty_routing_key=_secret(recv.pagerduty_key_secret), heartbeat_url=_secret(recv.heartbeat_url_secret),
            gpu_taint_keys=sorted({p.taint.key for p in config.gpu_pools if p.taint} or {"nvidia.com/gpu"}),
            gpu_nodes_only=bool(config.gpu_pools)), opts)
        ClusterObservability(child(name, "cluster-observability"), ClusterObservabilityArgs(
            monitoring=core.refs, tags=self.tags, cluster=cluster_refs, gpu=bool(config.gpu_pools),
            ml_namespaces=sorted({t.name for t in config.cluster.teams}
                                 | {c.namespace for c in (config.feast, config.mlflow) if c}),
            # Only the add-on's CloudWatch agent emits the failed-node metric.
            container_insights_cluster=cluster_refs.name if cluster_refs.container_insights else None,
            nat_gateway_ids=self.network.nat_gateway_ids), opts)
        return core

    def _security(self, cluster_refs: ClusterRefs, opts: pulumi.ResourceOptions) -> SecurityBaseline:
        """Threat detection and secrets delivery, before the add-ons (their secret stores wait for the operator)."""
        config, sb = self.config, self.config.security_baseline
        return SecurityBaseline(child(self._name, "security"), SecurityBaselineArgs(
            config=sb, region=config.region, tags=self.tags, cluster=cluster_refs, protect=config.protect_stateful,
            alert_topic_arn=self.monitoring.alert_topic_arn if self.monitoring else None, vpc_id=self.network.refs.vpc_id,
            # Every bucket, role and database of the platform is autonamed from a child name of this component.
            name_prefix=f"{self._name}-",
            secret_values={s.config_key: secret_config(s.config_key) for s in sb.integration_secrets}), opts)

    def _guards(self, security: SecurityBaseline, cluster_refs: ClusterRefs, ctx: PlatformContext) -> BucketGuards:
        """The trail and the exfiltration guards, last: from every bucket and service port the core and the add-ons
        exposed (the Pushgateway, Qdrant's API, served models, LakeFS's API and S3 gateway)."""
        config, sb = self.config, self.config.security_baseline
        return bucket_guards(security, BucketGuardsArgs(
            config=sb, region=config.region, tags=self.tags, network=self.network.refs, cluster=cluster_refs,
            protect=config.protect_stateful,
            data_bucket_arns=list(self.data_buckets), platform_bucket_arns=list(self.platform_buckets),
            ml_namespaces=[t.name for t in config.cluster.teams],
            service_namespaces=[c.namespace for c in (config.feast, config.mlflow) if c is not None],
            service_ports=list(ctx.service_ports),
            gateway_services=["dynamodb"] if uses_dynamodb(config) else [],
            # Feast's SQL registry and Redis (RBAC): every team holds its own login (feature_clients).
            vpc_ports=feast_vpc_ports(config),
            deployer_role_arns=effective_deployer_role_arns(sb, config.cluster),
            # Every bucket of the platform is autonamed from a child name of this component.
            deployer_bucket_prefixes=[self._name]))

    def _context(self, cluster_refs: ClusterRefs, k8s_opts: pulumi.ResourceOptions,
                 guard: VpcEndpointGuard | None) -> PlatformContext:
        fs, reg = self.feature_store, self.model_registry
        feast = fs if isinstance(fs, FeastFeatureStore) else None
        mlflow = reg if isinstance(reg, MlflowRegistry) else None
        return PlatformContext(
            name=self._name, parent=self, config=self.config, tags=self.tags, protect=self.config.protect_stateful,
            data_buckets=self.data_buckets, platform_buckets=self.platform_buckets,
            network=self.network.refs, cluster=cluster_refs, k8s_opts=k8s_opts, data_key=self.data_key,
            shared_bucket=self.shared_bucket, bucket_guard=guard,
            monitoring=self.monitoring.refs if self.monitoring else None,
            pushgateway_url=self.monitoring.pushgateway_url if self.monitoring else None,
            service_ports=list(self.monitoring.service_ports) if self.monitoring else [],
            artifacts=reg.artifacts.refs if reg else None,
            artifact_write_policy_arn=reg.log_models_policy.arn if reg else None,
            feature_read_policy_arn=fs.read_policy.arn if fs else None,
            offline_store=fs.bucket.refs if fs else None,
            mlflow_tracking_uri=mlflow.internal_tracking_uri if mlflow else None,
            mlflow_credentials=mlflow.mlflow_credentials if mlflow else {},
            feature_registry_logins=feast.registry_logins if feast else {},
            credential_secrets=(mlflow.credentials_secret_name if mlflow else None,
                                feast.credentials_secret_name if feast else None),
            feature_server_url=feast.feature_server_url if feast else None,
            external_secrets=self.security.secrets_delivery if self.security else None)

    # long: one mapping of every core contract attribute to its value, read against outputs.CONTRACT in one place
    def _outputs(self) -> dict[str, Any]:
        """The core stack outputs, by contract attribute (None: not built with this config); `core_outputs` checks
        that exactly the contract's keys for this config have a value."""
        fs, reg, mon, sec, guards = self.feature_store, self.model_registry, self.monitoring, self.security, self.guards
        # Engine-specific outputs come from the engine's own type (None: another engine, or none).
        feast = fs if isinstance(fs, FeastFeatureStore) else None
        sagemaker = fs if isinstance(fs, SageMakerFeatureStore) else None
        mlflow = reg if isinstance(reg, MlflowRegistry) else None
        network, cluster, sb = self.network.refs, self.cluster, self.config.security_baseline
        elsewhere = self.config.cluster.add_ons_elsewhere
        guarded = sb.enabled and sb.exfiltration_guards
        return core_outputs(self.config, {
            "environment": self.config.environment, "cluster_name": cluster.cluster.name,
            "cluster_endpoint": cluster.cluster.endpoint, "kubeconfig": cluster.kubeconfig,
            "workload_identity": self.config.cluster.workload_identity,
            "cluster_version": cluster.refs.version, "storage_classes": list(cluster.refs.storage_classes),
            "load_balancer_controller": cluster.refs.load_balancer_controller,
            "network_policy_enforced": cluster.refs.network_policy_enforced,
            "container_insights": cluster.refs.container_insights, "metrics_server": cluster.refs.metrics_server,
            "service_ipv4_cidr": cluster.refs.service_ipv4_cidr,
            "interface_endpoints": list(network.interface_endpoints or ()),
            # What this program installed, and what config says another stack did (cluster.addOnsInstalledElsewhere).
            "cluster_add_ons": sorted({*installed(cluster.provider), *elsewhere}),
            # ...and who owns each: this stack its own installs, the owner config names for the others (when known).
            "cluster_add_on_owners": {**{a: this_stack() for a in installed(cluster.provider)},
                                      **{a: owner for a, owner in elsewhere.items() if owner}},
            "s3_gateway_endpoint_id": network.s3_gateway_endpoint_id,
            "platform_namespaces": platform_namespaces(self.config),
            # Only where this stack writes the endpoint policy that admits them (a VPC made elsewhere: its owner's).
            "consumer_bucket_prefixes": list(sb.consumer_bucket_prefixes)
            if sb.enabled and sb.exfiltration_guards and network.owns_endpoints else None,
            # What the teams' egress guard admits of other stacks' Services (workspaces apply the same rules).
            "egress_guarded_namespaces": sorted({t.name for t in self.config.cluster.teams}
                                                | set(self.config.cluster.workspaces)) if guarded else None,
            "consumer_service_ports": [{"namespace": p.namespace, "port": p.port} for p in sb.consumer_service_ports]
            if guarded else None,
            # ...and which of those a workspace stack guards (its own `pulumi up` applies a change of the ports).
            "egress_guarded_workspaces": sorted(self.config.cluster.workspaces) if guarded else None,
            "oidc_provider_arn": cluster.oidc_provider_arn, "oidc_issuer": cluster.refs.identity.oidc_issuer,
            "vpc_id": network.vpc_id, "vpc_cidr": network.vpc_cidr, "private_subnet_ids": network.private_subnet_ids,
            "cluster_security_group_id": cluster.refs.cluster_security_group_id,
            "node_role_arn": cluster.node_role.arn, "cluster_kms_key_arn": cluster.kms_key.arn,
            "shared_bucket_name": self.shared_bucket.bucket_name, "data_key_arn": self.data_key.arn,
            "feature_store_offline_bucket": fs.offline_bucket_name if fs else None,
            "feature_store_kms_key_arn": fs.kms_key.arn if fs else None,
            "feature_store_read_policy_arn": fs.read_policy.arn if fs else None,
            "feature_store_group_names": sagemaker.group_names if sagemaker else None,
            "feature_store_registry": feast.registry_path if feast else None,
            "feature_store_yaml": feast.feature_store_yaml if feast else None,
            "feature_store_url": feast.feature_server_url if feast else None,
            "feature_store_online_tables": feast.dynamodb.table_names if feast and feast.dynamodb else None,
            "feature_store_online_endpoint": feast.redis.endpoint if feast and feast.redis else None,
            "mlflow_tracking_uri": mlflow.internal_tracking_uri if mlflow else None,
            "model_registry_db_endpoint": mlflow.database_endpoint if mlflow else None,
            "model_artifact_bucket": reg.artifact_bucket_name if reg else None,
            "model_artifact_write_policy_arn": reg.log_models_policy.arn if reg else None,
            "model_artifact_key_arn": reg.key.arn if reg else None,
            "system_node_disk_gib": self.config.cluster.system_nodes.disk_size_gib,
            "alert_topic_arn": mon.alert_topic_arn if mon else None,
            "pushgateway_url": mon.pushgateway_url if mon else None,
            "audit_trail_arn": guards.trail_arn if guards else None,
            "guard_duty_detector_id": sec.detector_id if sec else None,
            "external_secrets_store": (sec.secret_store_name if sec else None) or self.config.cluster.external_secrets_store,
            "team_workspace": workspace_terms(self.config, guards.egress_rules if guards else None,
                                              self.workspace_credentials),
        })

    def export(self) -> None:
        """Export the platform's documented stack outputs."""
        for key, value in self.outputs.items():
            pulumi.export(key, value)
