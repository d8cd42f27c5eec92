"""What every orchestration engine is handed: typed references to what it runs on and what its pods call, never the
platform's config or context (issue 29). The platform builds them from its config and core components
(mlops_infra/platform/addon_pipelines.py); a stack of its own builds them from another stack's outputs
(examples/<engine>)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from ..blocks.bucket import VpcEndpointGuard
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.naming import child
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import ClusterRefs, NetworkRefs
from ..compute.gpu_config import GpuPoolConfig
from ..features.feature_store_consumers import RegistryLogin


@dataclass(frozen=True)
class Endpoint:
    """A service task pods call: the URL they get in their env, and where its pods listen (the namespace egress
    policy admits that port in that namespace, nothing more of it)."""

    url: pulumi.Input[str]
    namespace: str
    port: int


@dataclass(frozen=True)
class EngineRefs:
    """The references every engine (Airflow, KubeflowPipelines, Metaflow, Prefect) shares."""

    cluster: ClusterRefs
    """The cluster: identity, provider (every Kubernetes child binds to it), namespaces it already has."""
    network: NetworkRefs
    """The VPC: databases go in its private subnets; its CIDR is admitted for STS, the databases, Redis."""
    region: str
    """The AWS Region of the buckets and Secrets Manager (S3 endpoints, gateway prefix lists)."""
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on buckets and databases. Default: true."""
    kms_key: KmsKey | None = None
    """The key buckets, databases and their secrets encrypt with. Default: none (each engine creates its own)."""
    bucket_guard: VpcEndpointGuard | None = None
    """The exfiltration guard data buckets (KFP artifacts, Metaflow datastore) carry. Default: none."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core to contribute scrape targets, rules and database alarms to. Default: none."""
    feature_read_policy_arn: pulumi.Input[str] | None = None
    """Managed policy attached to each executor role: read the feature store. Default: none."""
    artifact_write_policy_arn: pulumi.Input[str] | None = None
    """Managed policy attached to each executor role: log models to the registry. Default: none."""
    mlflow: Endpoint | None = None
    """MLflow's tracking server (MLFLOW_TRACKING_URI; its namespace and API port). Default: none."""
    feature_server: Endpoint | None = None
    """Feast's feature server (FEAST_FEATURE_SERVER_URL; its namespace and port). Default: none."""
    dynamodb: bool | None = None
    """Task pods read a DynamoDB online store: egress admits the Region's DynamoDB prefix list. Default: none, read
    as false without `feature_read_policy_arn`; with it, say which (a platform stack exports
    `featureStoreOnlineTableNames` exactly when its Feast online store is DynamoDB), else the refs are refused."""
    gpu_pools: Sequence[GpuPoolConfig] = ()
    """The training pools GPU steps may run on (node selector, taints); the first is the default. Default: none."""
    external_secrets: pulumi.Resource | None = None
    """What installs the External Secrets operator and its CRDs: SecretStores and ExternalSecrets wait for it.
    Default: none (the operator is already there: `cluster.external_secrets_store` must say so, else an engine that
    syncs a Secret is refused)."""
    mlflow_credentials: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """MLflow basic auth: the password (a Pulumi secret) of the MLflow user named after each engine namespace.
    Default: none (no auth)."""
    feature_registry_logins: Mapping[str, RegistryLogin] = field(default_factory=dict)
    """A Feast SQL registry (or Redis with RBAC): each engine namespace's login. Default: none."""
    credential_namespaces: frozenset[str] = frozenset()
    """Namespaces that already hold the MLflow and Feast credential Secrets (the platform's team namespaces): an
    engine there creates neither. Default: none."""

    def __post_init__(self) -> None:
        if self.dynamodb is None and self.feature_read_policy_arn is not None:
            raise ValueError("EngineRefs: feature_read_policy_arn is set but dynamodb is not: say whether the feature "
                             "store's online store is DynamoDB (dynamodb=True admits its prefix list in the egress "
                             "policy; a platform stack exports featureStoreOnlineTableNames exactly then)")

    def with_key(self, owner: pulumi.Resource, name: str) -> EngineRefs:
        """These refs with a key: `kms_key`, else a key of the engine's own (`<name>-key`, under `owner`)."""
        if self.kms_key is not None:
            return self
        key = KmsKey(child(name, "key"), KmsKeyArgs(description=f"{name}: orchestration data", tags=self.tags,
                                                    protect=self.protect), pulumi.ResourceOptions(parent=owner))
        return dataclasses.replace(self, kms_key=key)

    @property
    def key(self) -> KmsKey:
        """The key (after `with_key`)."""
        if self.kms_key is None:
            raise ValueError("EngineRefs.key: no KMS key (call with_key first)")
        return self.kms_key
