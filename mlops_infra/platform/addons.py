"""What the platform hands its add-on concerns (serving, orchestration, data versioning, vector search).

`MlopsPlatform` builds the core (network, cluster, monitoring core, feature store, model registry, security
baseline), then gives each add-on one `PlatformContext`: typed references only, never another component's child
names. Each add-on's `wiring.build(ctx)` lives in its own concern package and returns its stack outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from ..blocks.bucket import HardenedBucket, VpcEndpointGuard
from ..blocks.kms import KmsKey
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import BucketRefs, ClusterRefs, NetworkRefs
from ..config import PlatformConfig


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


AddOn = Callable[[PlatformContext], Mapping[str, Any]]
"""An add-on's `wiring.build`: creates its components under `ctx.parent` and returns its stack outputs."""


def add_ons() -> list[AddOn]:
    """The add-on concerns, in build order. Imported here (not at module load) so `--help` stays light."""
    return []


def build_add_ons(ctx: PlatformContext) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    for build in add_ons():
        for key, value in build(ctx).items():
            if key in outputs:
                raise ValueError(f"two add-ons export the output {key!r}")
            outputs[key] = value
    return outputs
