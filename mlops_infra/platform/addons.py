"""What the platform hands its add-on concerns (serving, orchestration, data versioning, vector search).

`MlopsPlatform` builds the core (network, cluster, monitoring core, feature store, model registry, security
baseline), then gives each add-on one `PlatformContext`: typed references only, never another component's child
names. Each add-on's `wiring.build(ctx)` lives in its own concern package and returns its stack outputs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from ..blocks.bucket import HardenedBucket, VpcEndpointGuard
from ..blocks.kms import KmsKey
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import BucketRefs, ClusterRefs, NetworkRefs
from ..config import PlatformConfig
from ..features.feature_store_consumers import RegistryLogin
from ..outputs import Key, checked


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

    workspace_keys: dict[str, tuple[Any, pulumi.Output[str]]] = field(default_factory=dict)
    """Keys an add-on shares with the team workspaces (`cluster.workspaces`), by service: (its Secrets Manager
    secret, the service URL); platform/workspace_credentials.py delivers them. Qdrant adds its read-write key."""

    def add_bucket(self, bucket: HardenedBucket) -> HardenedBucket:
        """Register a bucket the add-on created: a data bucket if it carries the platform's guard (`bucket_guard`),
        else a platform bucket. Returns it, so `self.bucket = ctx.add_bucket(HardenedBucket(...))` reads well."""
        (self.data_buckets if bucket.guarded else self.platform_buckets).append(bucket.arn)
        return bucket


AddOn = Callable[[PlatformContext], Mapping[str, Any]]
"""An add-on's `wiring.build`: creates its components under `ctx.parent` and returns its stack outputs."""


def add_ons() -> list[AddOn]:
    """The add-on concerns, in build order. Imported here (not at module load) so `--help` stays light."""
    from ..data import wiring as data
    from ..pipelines import wiring as pipelines
    from ..serving import wiring as serving
    return [pipelines.build, serving.build, data.build]


def _declared(build: AddOn) -> tuple[Key, ...]:
    """The output keys an add-on declares: `OUTPUTS: tuple[Key, ...]` in the module of its `build`."""
    keys = getattr(sys.modules[build.__module__], "OUTPUTS", None)
    if not isinstance(keys, tuple) or not all(isinstance(k, Key) for k in keys):
        raise TypeError(f"{build.__module__}: an add-on declares its stack outputs as `OUTPUTS: tuple[Key, ...]` "
                        "(mlops_infra.outputs.Key) beside `build`")
    return keys


def add_on_keys() -> tuple[Key, ...]:
    """Every add-on's declared output keys: part of the platform's output contract (mlops_infra.outputs)."""
    return tuple(key for build in add_ons() for key in _declared(build))


def build_add_ons(ctx: PlatformContext) -> dict[str, Any]:
    """Build every add-on; each returns exactly the outputs it declares for `ctx.config` (`Key.when`)."""
    outputs: dict[str, Any] = {}
    for build in add_ons():
        for key, value in checked(_declared(build), ctx.config, build(ctx), build.__module__).items():
            if key in outputs:
                raise ValueError(f"two add-ons export the output {key!r}")
            outputs[key] = value
    return outputs
