"""Shared building blocks every component uses, so none of them reinvents these."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule, VpcEndpointGuard
    from .grants import Grant, Grants
    from .helm import PinnedChart
    from .identity import ClusterIdentity, WorkloadIdentity, WorkloadIdentityArgs
    from .kms import KeyLike, KeyRef, KmsKey, KmsKeyArgs
    from .observability import MonitoringRefs, ObservabilityContribution, RuleGroup, ScrapeEndpoint
    from .postgres import Postgres, PostgresArgs
    from .refs import BucketRefs, ClusterRefs, NetworkRefs, NodeRefs, cluster_provider
    from .stack_outputs import MissingStackOutput

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "HardenedBucket": "bucket", "HardenedBucketArgs": "bucket", "LifecycleRule": "bucket",
    "VpcEndpointGuard": "bucket", "Grant": "grants", "Grants": "grants", "PinnedChart": "helm",
    "ClusterIdentity": "identity", "WorkloadIdentity": "identity", "WorkloadIdentityArgs": "identity",
    "KeyLike": "kms", "KeyRef": "kms", "KmsKey": "kms", "KmsKeyArgs": "kms", "MonitoringRefs": "observability",
    "ObservabilityContribution": "observability", "RuleGroup": "observability", "ScrapeEndpoint": "observability",
    "Postgres": "postgres", "PostgresArgs": "postgres", "BucketRefs": "refs", "ClusterRefs": "refs",
    "NetworkRefs": "refs", "NodeRefs": "refs", "cluster_provider": "refs", "MissingStackOutput": "stack_outputs",
}

__all__ = [
    "BucketRefs", "ClusterIdentity", "ClusterRefs", "Grant", "Grants", "HardenedBucket", "HardenedBucketArgs",
    "KeyLike", "KeyRef", "KmsKey", "KmsKeyArgs", "LifecycleRule", "MissingStackOutput", "MonitoringRefs", "NetworkRefs", "NodeRefs",
    "ObservabilityContribution", "PinnedChart", "Postgres", "PostgresArgs", "RuleGroup", "ScrapeEndpoint",
    "VpcEndpointGuard", "WorkloadIdentity", "WorkloadIdentityArgs", "cluster_provider",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
