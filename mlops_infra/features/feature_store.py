"""`FeatureStore(name, FeatureStoreArgs(...))`: the engine component that `featureStore.engine` names, for programs
written against the single FeatureStore of earlier releases and for callers whose engine comes from config.

New code that knows its engine constructs `FeastFeatureStore` (feast_store.py) or `SageMakerFeatureStore`
(sagemaker_store.py) directly; code that works with either takes a `FeatureStoreLike` (offline_store.py). Both
keep the released resource names, and alias the released type token `mlops:feature_store:FeatureStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ..blocks.bucket import VpcEndpointGuard
from ..blocks.kms import KmsKey
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import ClusterRefs, NetworkRefs
from .config import FeatureStoreConfig, SageMakerFeatureStoreConfig
from .feast_store import (
    ATHENA_ACTIONS,
    GLUE_ACTIONS,
    REGISTRY_KEY,
    REGISTRY_READER,
    S3_READ,
    S3_WRITE,
    FeastFeatureStore,
    FeastFeatureStoreArgs,
)
from .offline_store import OFFLINE_PREFIX, READ_DESCRIPTION, STAGING_PREFIX, FeatureStoreLike
from .sagemaker_store import SageMakerFeatureStore, SageMakerFeatureStoreArgs

# The module constants of the released feature_store.py, where programs of earlier releases import them from.
__all__ = ["ATHENA_ACTIONS", "GLUE_ACTIONS", "OFFLINE_PREFIX", "READ_DESCRIPTION", "REGISTRY_KEY", "REGISTRY_READER",
           "S3_READ", "S3_WRITE", "STAGING_PREFIX", "FeastFeatureStore", "FeatureStore", "FeatureStoreArgs", "FeatureStoreLike",
           "SageMakerFeatureStore"]


@dataclass(frozen=True)
class FeatureStoreArgs:
    """Either engine's arguments; `network`, `cluster` and `client_namespaces` are read by Feast only."""

    config: FeatureStoreConfig
    """`featureStore`: its engine (feast or sagemaker) picks the component."""
    tags: dict[str, str]
    network: NetworkRefs
    """The VPC (Feast: the Redis and SQL-registry subnets)."""
    cluster: ClusterRefs
    """The cluster, with its Kubernetes provider (Feast: identity, security group, namespaces; SageMaker: the
    monitoring core's cluster)."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the bucket, tables, Redis, database and key. Default: true."""
    kms_key: KmsKey | None = None
    """Customer key for every store. Default: the component creates its own."""
    bucket_guard: VpcEndpointGuard | None = None
    """Deny offline-store access from outside the VPC endpoint (exfiltration guard). Default: off."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core to contribute rules, a dashboard and data-store alarms to (features/observability.py).
    Default: none (contribute nothing)."""
    client_namespaces: Sequence[pulumi.Input[str]] = ()
    """Namespaces whose pods may call the feature server (its ingress NetworkPolicy admits only these and, with
    `monitoring`, Prometheus). Feast only. Default: none."""
    credentials_secret_name: str | None = None
    """The Secret with each consumer namespace's Feast logins (Feast only). Default: `<name>-feast-credentials`,
    one per instance."""


def FeatureStore(name: str, args: FeatureStoreArgs,  # the released class name, now a factory
                 opts: pulumi.ResourceOptions | None = None) -> FeastFeatureStore | SageMakerFeatureStore:
    """The engine component for `args.config.engine`, with the same name and children as the released one."""
    cfg = args.config
    if isinstance(cfg, SageMakerFeatureStoreConfig):
        return SageMakerFeatureStore(name, SageMakerFeatureStoreArgs(
            config=cfg, tags=args.tags, protect=args.protect, kms_key=args.kms_key, bucket_guard=args.bucket_guard,
            monitoring=args.monitoring, cluster=args.cluster), opts)
    return FeastFeatureStore(name, FeastFeatureStoreArgs(
        config=cfg, tags=args.tags, network=args.network, cluster=args.cluster, protect=args.protect,
        kms_key=args.kms_key, bucket_guard=args.bucket_guard, monitoring=args.monitoring,
        client_namespaces=args.client_namespaces, credentials_secret_name=args.credentials_secret_name), opts)


def _engines_are_feature_stores(feast: FeastFeatureStore, sagemaker: SageMakerFeatureStore) -> list[FeatureStoreLike]:
    """Never called: mypy --strict checks here that both engines satisfy the Protocol."""
    return [feast, sagemaker]
