"""What the platform hands its add-on concerns (serving, orchestration, data versioning, vector search).

`MlopsPlatform` builds the core (network, cluster, monitoring core, feature store, model registry, security
baseline), then gives each add-on one `PlatformContext`: typed references only, never another component's child
names. Each add-on registers one `AddOn(name, build, outputs)` (`ADD_ON` in its module); platform/installed.py
lists them, in build order. This module imports no add-on, so add-ons can import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi

from ..blocks.bucket import HardenedBucket, VpcEndpointGuard
from ..blocks.endpoints import ServicePort
from ..blocks.kms import KmsKey
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import BucketRefs, ClusterRefs, NetworkRefs
from ..features.feature_store_consumers import RegistryLogin
from .config import PlatformConfig
from .output_key import Key, checked

if TYPE_CHECKING:
    from ..data.qdrant import Qdrant


@dataclass(frozen=True)
class PlatformContext:
    name: str
    """The platform component's name (`<config.name>-<environment>`): add-on child names derive from it."""
    parent: pulumi.Resource
    """The platform component: every add-on component is its child."""
    config: PlatformConfig
    tags: dict[str, str]
    protect: bool
    network: NetworkRefs
    cluster: ClusterRefs
    """With `provider` set and the platform's service namespaces in `namespaces`."""
    k8s_opts: pulumi.ResourceOptions
    """`parent` + the cluster's Kubernetes provider."""
    data_key: KmsKey
    shared_bucket: HardenedBucket
    bucket_guard: VpcEndpointGuard | None
    """The exfiltration guard data buckets carry (None when the guards are off)."""
    monitoring: MonitoringRefs | None
    artifacts: BucketRefs | None
    """The model registry's artifact bucket (None without a registry)."""
    artifact_write_policy_arn: pulumi.Output[str] | None
    """Managed policy: log models (None without a registry)."""
    feature_read_policy_arn: pulumi.Output[str] | None
    """Managed policy: read the feature store (None without a feature store)."""
    offline_store: BucketRefs | None
    mlflow_tracking_uri: pulumi.Output[str] | None
    feature_server_url: pulumi.Output[str] | None
    data_buckets: list[pulumi.Output[str]]
    """Data buckets (those carrying `bucket_guard`): an add-on adds each one it creates (`add_bucket`), so the audit
    trail records their object events and the S3 endpoint admits them (else pods in the VPC are denied)."""
    platform_buckets: list[pulumi.Output[str]]
    """Other buckets pods reach through the S3 endpoint (logs, scratch): an add-on adds each one it creates."""
    external_secrets: pulumi.Resource | None = None
    """What installs the External Secrets operator and its CRDs (the security baseline, when
    `securityBaseline.externalSecrets`): an add-on's SecretStore and ExternalSecrets depend on it. None: no operator."""
    mlflow_credentials: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """With MLflow basic auth: the password (a Pulumi secret) of the MLflow user named after each orchestrator's
    namespace; the engine's wiring delivers it (registry/mlflow_users.py). Empty: no auth, or no registry."""
    feature_registry_logins: Mapping[str, RegistryLogin] = field(default_factory=dict)
    """With a Feast SQL registry: each orchestrator namespace's read-only registry login; the engine's wiring
    delivers it (features/feature_store_consumers.py). Empty: no SQL registry."""
    credential_secrets: tuple[str | None, str | None] = (None, None)
    """The Secrets holding those credentials (MLflow's, Feast's) in every namespace: the registry's and the feature
    store's `credentials_secret_name`. None: no such component."""
    pushgateway_url: pulumi.Output[str] | None = None
    """The monitoring core's Pushgateway (None without monitoring): model monitoring jobs push there."""
    service_ports: list[ServicePort] = field(default_factory=list)
    """Ports ML pods reach in other namespaces: the core's, then each add-on adds what its components expose
    (`service_ports`); the exfiltration guards, built after every add-on, admit exactly these."""
    workspace_qdrant: list[Qdrant] = field(default_factory=list)
    """The Qdrant whose read-write key the team workspaces (`cluster.workspaces`) share (at most one; empty: none);
    platform/workspace_credentials.py delivers its key and URL."""

    def add_bucket(self, bucket: HardenedBucket) -> HardenedBucket:
        """Register a bucket the add-on created: a data bucket if it carries the platform's guard (`bucket_guard`),
        else a platform bucket. Returns it, so `self.bucket = ctx.add_bucket(HardenedBucket(...))` reads well."""
        (self.data_buckets if bucket.guarded else self.platform_buckets).append(bucket.arn)
        return bucket


@dataclass(frozen=True)
class AddOn:
    """One add-on concern, as the platform builds it. `build` creates its components under `ctx.parent` and returns
    its stack outputs; `outputs` declares them (part of the platform's output contract, mlops_infra.outputs)."""

    name: str
    build: Callable[[PlatformContext], Mapping[str, Any]]
    outputs: tuple[Key, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.outputs, tuple) or not all(isinstance(k, Key) for k in self.outputs):
            raise TypeError(f"add-on {self.name!r}: `outputs` must be a tuple of Key "
                            "(mlops_infra.platform.output_key.Key)")

    def built(self, ctx: PlatformContext) -> dict[str, Any]:
        """Build it; its outputs must be exactly those it declares for `ctx.config` (`Key.when`)."""
        return checked(self.outputs, ctx.config, self.build(ctx), f"add-on {self.name!r}")
