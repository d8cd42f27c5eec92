"""ModelRegistry: MLflow (RDS Postgres + S3 artifacts + tracking server on EKS) or SageMaker Model Package
Groups, chosen by the config's variant (`modelRegistry.engine`). Training and serving roles get access through the grant methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, VpcEndpointGuard
from ..blocks.grants import Grant, Grants
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.namespace import namespace as ns_block
from ..blocks.naming import child
from ..blocks.network_access import PrivatePlacement
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import ClusterRefs, NetworkRefs
from ..config.errors import ConfigError
from ..observability.monitoring_rules import ScrapeTarget
from .config import INGRESS_NEEDS, MlflowModelRegistryConfig, ModelRegistryConfig, SageMakerModelRegistryConfig
from .mlflow_database import MlflowDatabase, MlflowDatabaseArgs
from .mlflow_server import MlflowServer, MlflowServerArgs
from .observability import ModelRegistryObservability, ModelRegistryObservabilityArgs
from .sagemaker_registry import SageMakerRegistry, SageMakerRegistryArgs

ARTIFACT_PREFIX = "artifacts"
LOG_MODELS_DESCRIPTION = "Log models to the registry"
"""IAM replaces a policy whose description changes: the released log-models policy keeps this one."""


@dataclass(frozen=True)
class ModelRegistryArgs:
    config: ModelRegistryConfig
    tags: dict[str, str]
    network: NetworkRefs | None = None
    """Required for engine mlflow (the database's private subnets). Default: none."""
    cluster: ClusterRefs | None = None
    """Required for engine mlflow (identity, security group, namespaces). Default: none."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the key, bucket and database. Default: true."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core to contribute to: the tracking server's ServiceMonitor (admitted from its Prometheus
    namespace), rules, a dashboard and database alarms (registry/observability.py). Default: none (nothing)."""
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra ServiceMonitor labels for Prometheus' selector. Default: none."""
    oidc_client_secret: pulumi.Input[str] | None = None
    """`secret_config(config.ingress.oidc_client_secret)` when ingress auth is oidc. Default: none."""
    name_prefix: str | None = None
    """Prefix of SageMaker group names (engine sagemaker), e.g. `mlops-prod`. Default: the component's name."""
    bucket_guard: VpcEndpointGuard | None = None
    """Deny artifact access from outside the VPC endpoint (exfiltration guard). Default: off."""
    client_namespaces: Sequence[pulumi.Input[str]] = ()
    """Namespaces whose pods may call the tracking server (engine mlflow; its NetworkPolicy). Default: none."""
    client_namespace_labels: Mapping[str, str] | None = None
    """Also admit namespaces carrying these labels (a team workspace's). Default: none."""
    team_namespaces: Sequence[str] = ()
    """Namespaces whose workloads log to MLflow: with MLflow basic auth each gets its own MLflow user (named
    after the namespace) and the Secret `mlflow-credentials` holding MLFLOW_TRACKING_USERNAME/PASSWORD
    (registry/mlflow_users.py). Default: none."""
    client_users: Sequence[str] = ()
    """Namespaces created after the registry (the orchestrators') whose workloads log to MLflow: with MLflow basic
    auth each gets its own MLflow user, and its password in `mlflow_credentials` for the consumer to deliver.
    Default: none."""


class ModelRegistry(pulumi.ComponentResource):
    """Outputs: `tracking_uri` (mlflow), `artifact_bucket_name`, `database_endpoint`/`database_address`
    (mlflow), `model_package_group_arns` (sagemaker). Never a password."""

    tracking_uri: pulumi.Output[str] | None
    internal_tracking_uri: pulumi.Output[str] | None
    """The in-cluster Service URL (http://<svc>.<ns>.svc.cluster.local:<port>): what platform consumers get; the
    ingress host (`tracking_uri` with ingress on) has no DNS record of ours and may sit behind oauth2-proxy."""
    artifact_bucket_name: pulumi.Output[str]
    database_endpoint: pulumi.Output[str] | None
    database_address: pulumi.Output[str] | None

    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:model_registry:ModelRegistry", name, None,
                         args.cluster.bind(opts) if args.cluster else opts)
        cfg = args.config
        self._grants = Grants(self, name, args.tags)
        self.key = KmsKey(child(name, "key"), KmsKeyArgs(
            description=f"{name}: model artifacts, registry database and its secret", tags=args.tags,
            protect=args.protect), pulumi.ResourceOptions(parent=self))
        self.artifacts = HardenedBucket(child(name, "artifacts"), HardenedBucketArgs(
            kms_key=self.key, tags=args.tags, protect=args.protect, vpc_endpoint_guard=args.bucket_guard),
            pulumi.ResourceOptions(parent=self))
        self.artifact_bucket_name = self.artifacts.bucket_name
        self.tracking_uri = self.internal_tracking_uri = self.database_endpoint = self.database_address = None
        self.database: MlflowDatabase | None = None
        self.server: MlflowServer | None = None
        self.sagemaker: SageMakerRegistry | None = None
        self.model_package_group_arns: dict[str, pulumi.Output[str]] = {}
        self.mlflow_credentials: dict[str, pulumi.Output[str]] = {}
        """With MLflow basic auth: each user's password (a Pulumi secret) by username (= its namespace)."""
        if isinstance(cfg, MlflowModelRegistryConfig):
            self._mlflow(name, cfg, args)
        elif isinstance(cfg, SageMakerModelRegistryConfig):
            self.sagemaker = SageMakerRegistry(child(name, "sagemaker"), SageMakerRegistryArgs(
                model_names=cfg.model_names, name_prefix=args.name_prefix or name, tags=args.tags,
                reader_account_ids=cfg.reader_account_ids), pulumi.ResourceOptions(parent=self))
            self.model_package_group_arns = self.sagemaker.group_arns
        outputs: dict[str, object] = {"artifactBucketName": self.artifact_bucket_name}
        if self.tracking_uri is not None:
            outputs.update(trackingUri=self.tracking_uri, databaseEndpoint=self.database_endpoint)
        if self.model_package_group_arns:
            outputs["modelPackageGroupArns"] = self.model_package_group_arns
        if args.monitoring is not None:
            ModelRegistryObservability(child(name, "observability"), ModelRegistryObservabilityArgs(
                monitoring=args.monitoring, tags=args.tags,
                server=ScrapeTarget(cfg.namespace, self.server.service_name)
                if self.server and isinstance(cfg, MlflowModelRegistryConfig) else None,
                database_instance_id=self.database.instance.identifier if self.database else None),
                pulumi.ResourceOptions(parent=self))
        self.register_outputs(outputs)

    def _mlflow(self, name: str, cfg: MlflowModelRegistryConfig, args: ModelRegistryArgs) -> None:
        network, cluster = args.network, args.cluster
        if network is None or cluster is None:
            raise ValueError(f"{name}: engine mlflow needs network and cluster refs")
        if cfg.ingress.enabled and not cluster.load_balancer_controller:
            # An `alb` Ingress with no controller never gets an address, and Pulumi's await times out.
            raise ConfigError([f"modelRegistry.ingress.enabled: {INGRESS_NEEDS}"], source=name)
        self.database = MlflowDatabase(child(name, "db"), MlflowDatabaseArgs(
            config=cfg.database, placement=PrivatePlacement(network.vpc_id, network.private_subnet_ids,
                                                            cluster.cluster_security_group_id),
            kms_key=self.key, tags=args.tags,
            protect=args.protect), pulumi.ResourceOptions(parent=self))
        namespace = cluster.namespaces.get(cfg.namespace)
        if namespace is None:  # not created by the cluster: ours, with the restricted pod-security level
            namespace = ns_block(child(name, "namespace"), self, cfg.namespace, level="restricted")
        self.server = MlflowServer(child(name, "mlflow"), MlflowServerArgs(
            config=cfg, namespace=namespace, identity=cluster.identity, artifacts=self.artifacts,
            database=self.database, tags=args.tags, artifact_prefix=ARTIFACT_PREFIX, service_monitor=args.monitoring is not None,
            crd_dependencies=args.monitoring.crd_dependencies if args.monitoring else (), ingress_dependencies=cluster.ingress_dependencies,
            service_monitor_labels=args.service_monitor_labels,
            oidc_client_secret=args.oidc_client_secret, client_namespaces=args.client_namespaces,
            client_namespace_labels=args.client_namespace_labels,
            prometheus_namespace=args.monitoring.prometheus_namespace if args.monitoring else None,
            team_users={t: cluster.namespaces.get(t, t) for t in args.team_namespaces},
            client_users=[c for c in args.client_users if c not in args.team_namespaces],
            # The ALB (target type ip) connects from its ENIs in the VPC's subnets.
            ingress_source_cidrs=[network.vpc_cidr] if network.vpc_cidr else []), pulumi.ResourceOptions(parent=self))
        self.tracking_uri = self.server.tracking_uri
        self.internal_tracking_uri = self.server.internal_tracking_uri
        self.mlflow_credentials = self.server.user_passwords
        self.database_endpoint = self.database.endpoint
        self.database_address = self.database.address

    def log_models_statements(self) -> list[iam.Statement]:
        """Training roles: write model artifacts under the artifact prefix (for clients that upload directly
        rather than through the server's artifact proxy), or register SageMaker model packages."""
        statements = self.artifacts.write_statements(ARTIFACT_PREFIX)
        if self.sagemaker is not None:
            statements += self.sagemaker.write_statements()
        return statements

    def read_models_statements(self) -> list[iam.Statement]:
        """Serving roles: read model artifacts under the artifact prefix (and decrypt), or read packages."""
        statements = self.artifacts.read_statements(ARTIFACT_PREFIX)
        if self.sagemaker is not None:
            statements += self.sagemaker.read_statements()
        return statements

    def grant_log_models(self, role: aws.iam.Role) -> Grant:
        """`log_models_policy()` attached to `role`. Idempotent per role."""
        return self._grants.grant(role, "log-models", self.log_models_statements, LOG_MODELS_DESCRIPTION)

    def grant_read_models(self, role: aws.iam.Role) -> Grant:
        """The read-models managed policy attached to `role`. Idempotent per role."""
        return self._grants.grant(role, "read-models", self.read_models_statements, "Read models from the registry")

    def log_models_policy(self) -> aws.iam.Policy:
        """The log-models grant's managed policy (the one `grant_log_models` attaches), for roles in other stacks
        (the platform exports its ARN). Created once."""
        return self._grants.policy("log-models", self.log_models_statements, LOG_MODELS_DESCRIPTION)
