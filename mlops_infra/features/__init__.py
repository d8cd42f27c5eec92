"""Feature store concern: Feast (offline S3/Athena, online DynamoDB or Redis, SQL registry, feature server,
materialization) or SageMaker Feature Store, with the pure Feast config renderer."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import (
        FeastFeatureStoreConfig,
        FeatureServerConfig,
        OfflineStoreConfig,
        OnlineStoreConfig,
        SageMakerFeatureGroup,
        SageMakerFeatureStoreConfig,
    )
    from .feast_store import FeastFeatureStore, FeastFeatureStoreArgs
    from .feature_store import FeatureStore, FeatureStoreArgs
    from .offline_store import FeatureStoreLike
    from .sagemaker_store import SageMakerFeatureStore, SageMakerFeatureStoreArgs

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "FeastFeatureStoreConfig": "config", "FeatureServerConfig": "config", "OfflineStoreConfig": "config",
    "OnlineStoreConfig": "config", "SageMakerFeatureGroup": "config", "SageMakerFeatureStoreConfig": "config",
    "FeastFeatureStore": "feast_store", "FeastFeatureStoreArgs": "feast_store", "FeatureStore": "feature_store",
    "FeatureStoreArgs": "feature_store", "FeatureStoreLike": "offline_store",
    "SageMakerFeatureStore": "sagemaker_store", "SageMakerFeatureStoreArgs": "sagemaker_store",
}

__all__ = [
    "FeastFeatureStore", "FeastFeatureStoreArgs", "FeastFeatureStoreConfig", "FeatureServerConfig", "FeatureStore",
    "FeatureStoreArgs", "FeatureStoreLike", "OfflineStoreConfig", "OnlineStoreConfig", "SageMakerFeatureGroup",
    "SageMakerFeatureStore", "SageMakerFeatureStoreArgs", "SageMakerFeatureStoreConfig",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
