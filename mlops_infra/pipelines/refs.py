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


class Unguarded:
    """`EngineRefs.bucket_guard=UNGUARDED`: the caller chose data buckets with no exfiltration guard."""

    def __repr__(self) -> str:
        return "UNGUARDED"


UNGUARDED = Unguarded()
"""An explicit "no guard" for `EngineRefs.bucket_guard` (None, the default, is the same with a warning)."""


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
    bucket_guard: VpcEndpointGuard | Unguarded | None = None
    """The exfiltration guard data buckets (KFP artifacts, Metaflow datastore) carry, or `UNGUARDED` to choose none.
    Default: None, which is no guard too, but a data bucket made so gets a warning in the plan's (and `pulumi up`'s)
    output, as aws-cdk warns when a default it chose for you weakens a resource (aws/aws-cdk#31705): say which."""
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
    mlflow_credentials_secret: str | None = None
    """The Secret holding MLFLOW_TRACKING_USERNAME/PASSWORD in each engine namespace: the registry's
    `MlflowRegistry.credentials_secret_name` (what it writes in `credential_namespaces`; an engine elsewhere writes
    its own under this name). Required with `mlflow_credentials`. Default: none."""
    feast_credentials_secret: str | None = None
    """The Secret holding the Feast logins in each engine namespace: the store's
    `FeastFeatureStore.credentials_secret_name`. Required with `feature_registry_logins`. Default: none."""
    credential_namespaces: frozenset[str] = frozenset()
    """Namespaces that already hold the MLflow and Feast credential Secrets (the platform's team namespaces): an
    engine there creates neither. Default: none."""

    def __post_init__(self) -> None:
        for given, name, field_name in ((self.mlflow_credentials, self.mlflow_credentials_secret, "mlflow"),
                                        (self.feature_registry_logins, self.feast_credentials_secret, "feast")):
            if given and not name:
                raise ValueError(f"EngineRefs: credentials are given but {field_name}_credentials_secret is not: name "
                                 f"the Secret that holds them (the component's `credentials_secret_name`)")
        if self.dynamodb is None and self.feature_read_policy_arn is not None:
            raise ValueError("EngineRefs: feature_read_policy_arn is set but dynamodb is not: say whether the feature "
                             "store's online store is DynamoDB (dynamodb=True admits its prefix list in the egress "
                             "policy; a platform stack exports featureStoreOnlineTableNames exactly then)")

    def data_guard(self, owner: pulumi.Resource, bucket: str) -> VpcEndpointGuard | None:
        """The guard data bucket `bucket` carries: `bucket_guard`, None for `UNGUARDED`, and for the default (None)
        None with a warning on `owner` (the choice is visible where it was not made)."""
        if isinstance(self.bucket_guard, Unguarded):
            return None
        if self.bucket_guard is None:
            pulumi.log.warn(f"{bucket}: EngineRefs.bucket_guard is not set, so this data bucket carries no "
                            "exfiltration guard (S3 requests from outside the VPC's gateway endpoint are not denied): "
                            "pass a VpcEndpointGuard (security.exfiltration_guards.data_bucket_guard), or "
                            "bucket_guard=UNGUARDED to choose none and silence this warning", resource=owner)
        return self.bucket_guard

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
