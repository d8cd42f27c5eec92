"""MlflowRegistry: the MLflow tracking server on EKS with an RDS PostgreSQL backend store and S3 artifacts
(`modelRegistry.engine: mlflow`). Training and serving roles get access through the grant methods (artifacts.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from ..blocks.bucket import VpcEndpointGuard
from ..blocks.endpoints import ServicePort
from ..blocks.namespace import namespace as ns_block
from ..blocks.naming import child, instance_secret_name
from ..blocks.network_access import PrivatePlacement
from ..blocks.observability import MonitoringRefs
from ..blocks.platform_facts import guarded_bucket_problem, guarded_client_problems, occupied_namespace_problem
from ..blocks.refs import ClusterRefs, NetworkRefs, refuse
from ..config.errors import ConfigError
from ..observability.monitoring_rules import ScrapeTarget
from .artifacts import ARTIFACT_PREFIX, ArtifactRegistry
from .config import INGRESS_NEEDS, MlflowModelRegistryConfig
from .mlflow_database import MlflowDatabase, MlflowDatabaseArgs
from .mlflow_server import MlflowServer, MlflowServerArgs
from .observability import ModelRegistryObservability, ModelRegistryObservabilityArgs

TYPE = "mlops:registry:MlflowRegistry"


@dataclass(frozen=True)
class MlflowRegistryArgs:
    config: MlflowModelRegistryConfig
    tags: dict[str, str]
    network: NetworkRefs
    """The database's private subnets; the VPC CIDR the ALB connects from."""
    cluster: ClusterRefs
    """Identity, security group, namespaces and the Kubernetes provider."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the key, bucket and database. Default: true."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core to contribute to: the tracking server's ServiceMonitor (admitted from its Prometheus
    namespace), rules, a dashboard and database alarms (registry/observability.py). Default: none (nothing)."""
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra ServiceMonitor labels for Prometheus' selector. Default: none."""
    oidc_client_secret: pulumi.Input[str] | None = None
    """`secret_config(config.ingress.oidc_client_secret)` when ingress auth is oidc. Default: none."""
    bucket_guard: VpcEndpointGuard | None = None
    """Deny artifact access from outside the VPC endpoint (exfiltration guard). Default: off."""
    client_namespaces: Sequence[pulumi.Input[str]] = ()
    """Namespaces whose pods may call the tracking server (its NetworkPolicy). Default: none."""
    client_namespace_labels: Mapping[str, str] | None = None
    """Also admit namespaces carrying these labels (a team workspace's). Default: none."""
    team_namespaces: Sequence[str] = ()
    """Namespaces whose workloads log to MLflow: with MLflow basic auth each gets its own MLflow user (named
    after the namespace) and the Secret `credentials_secret_name` holding MLFLOW_TRACKING_USERNAME/PASSWORD
    (registry/mlflow_users.py). Default: none."""
    credentials_secret_name: str | None = None
    """The Secret each of `team_namespaces` gets (MLFLOW_TRACKING_USERNAME/PASSWORD). Default:
    `<name>-mlflow-credentials` (`naming.instance_secret_name`: over 63 characters, cut plus a hash of the whole
    name), one per instance, so a registry alone never writes a Secret the platform (or another registry) writes in
    the same namespace; a caller whose clients already mount another name passes it
    (the platform: `mlflow_users.CREDENTIALS_SECRET`, `mlflow-credentials`)."""
    client_users: Sequence[str] = ()
    """Namespaces created after the registry (the orchestrators') whose workloads log to MLflow: with MLflow basic
    auth each gets its own MLflow user, and its password in `mlflow_credentials` for the consumer to deliver.
    Default: none."""


class MlflowRegistry(ArtifactRegistry):
    """Outputs: `tracking_uri`, `internal_tracking_uri`, `artifact_bucket_name`, `database_endpoint`,
    `database_address`. Never a password (`mlflow_credentials` are Pulumi secrets, not outputs)."""

    tracking_uri: pulumi.Output[str]
    internal_tracking_uri: pulumi.Output[str]
    """The in-cluster Service URL (http://<svc>.<ns>.svc.cluster.local:<port>): what platform consumers get; the
    ingress host (`tracking_uri` with ingress on) has no DNS record of ours and may sit behind oauth2-proxy."""
    database_endpoint: pulumi.Output[str]
    database_address: pulumi.Output[str]
    database: MlflowDatabase
    server: MlflowServer
    mlflow_credentials: dict[str, pulumi.Output[str]]
    """With MLflow basic auth: each user's password (a Pulumi secret) by username (= its namespace)."""
    credentials_secret_name: str
    """The Secret each team namespace gets (`MlflowRegistryArgs.credentials_secret_name`, or
    `<name>-mlflow-credentials`): what its pods mount (`envFrom: [{secretRef: {name: ...}}]`)."""

    def __init__(self, name: str, args: MlflowRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, TYPE, args.cluster.bind(opts))
        cfg, network, cluster = args.config, args.network, args.cluster
        # Alone, on a platform stack's cluster and VPC: its namespace and the bucket its server uses (the artifacts).
        self.service_ports = [ServicePort(cfg.namespace, cfg.api_port)]
        """What client pods reach: the API (oauth2-proxy's port when the server is loopback-only)."""
        refuse(name, [occupied_namespace_problem(cfg.namespace, cluster),
                      guarded_bucket_problem(child(name, "artifacts"), network),
                      *guarded_client_problems([*args.client_namespaces, *args.team_namespaces, *args.client_users],
                                               self.service_ports, cluster)])
        self.credentials_secret_name = args.credentials_secret_name or instance_secret_name(name, "mlflow-credentials")
        self.model_package_group_arns: dict[str, pulumi.Output[str]] = {}
        """Deprecated, for one release: always empty (groups exist with engine sagemaker only), as the single
        ModelRegistry of earlier releases had it for MLflow."""
        self._artifacts(name, tags=args.tags, protect=args.protect, guard=args.bucket_guard)
        if cfg.ingress.enabled and not cluster.load_balancer_controller:
            # An `alb` Ingress with no controller never gets an address, and Pulumi's await times out.
            raise ConfigError([f"modelRegistry.ingress.enabled: {INGRESS_NEEDS}"], source=name)
        self.database = MlflowDatabase(child(name, "db"), MlflowDatabaseArgs(
            config=cfg.database, placement=PrivatePlacement(network.vpc_id, network.private_subnet_ids,
                                                            cluster.cluster_security_group_id),
            kms_key=self.key, tags=args.tags, protect=args.protect), pulumi.ResourceOptions(parent=self))
        namespace = cluster.namespaces.get(cfg.namespace)
        if namespace is None:  # not created by the cluster: ours, with the restricted pod-security level
            namespace = ns_block(child(name, "namespace"), self, cfg.namespace, level="restricted")
        monitoring = args.monitoring
        self.server = MlflowServer(child(name, "mlflow"), MlflowServerArgs(
            config=cfg, namespace=namespace, identity=cluster.identity, artifacts=self.artifacts,
            database=self.database, tags=args.tags, artifact_prefix=ARTIFACT_PREFIX,
            service_monitor=monitoring is not None, crd_dependencies=monitoring.crd_dependencies if monitoring else (),
            ingress_dependencies=cluster.ingress_dependencies, service_monitor_labels=args.service_monitor_labels,
            oidc_client_secret=args.oidc_client_secret, client_namespaces=args.client_namespaces,
            client_namespace_labels=args.client_namespace_labels,
            prometheus_namespace=monitoring.prometheus_namespace if monitoring else None,
            team_users={t: cluster.namespaces.get(t, t) for t in args.team_namespaces},
            client_users=[c for c in args.client_users if c not in args.team_namespaces],
            credentials_secret_name=self.credentials_secret_name,
            # The ALB (target type ip) connects from its ENIs in the VPC's subnets.
            ingress_source_cidrs=[network.vpc_cidr] if network.vpc_cidr else []), pulumi.ResourceOptions(parent=self))
        self.tracking_uri = self.server.tracking_uri
        self.internal_tracking_uri = self.server.internal_tracking_uri
        self.mlflow_credentials = self.server.user_passwords
        self.database_endpoint = self.database.endpoint
        self.database_address = self.database.address
        if monitoring is not None:
            ModelRegistryObservability(child(name, "observability"), ModelRegistryObservabilityArgs(
                monitoring=monitoring, tags=args.tags, cluster=args.cluster, server=ScrapeTarget(cfg.namespace, self.server.service_name),
                database_instance_id=self.database.instance.identifier), pulumi.ResourceOptions(parent=self))
        self._done({"artifactBucketName": self.artifact_bucket_name, "trackingUri": self.tracking_uri,
                    "databaseEndpoint": self.database_endpoint,
                    "credentialsSecretName": self.credentials_secret_name})
