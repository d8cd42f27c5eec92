"""Model registry concern: MLflow on EKS (server, RDS Postgres backend, artifact bucket) or SageMaker Model
Package Groups."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .artifacts import ModelRegistryLike
    from .config import IngressConfig, MlflowModelRegistryConfig, SageMakerModelRegistryConfig, TrackingServerConfig
    from .mlflow_registry import MlflowRegistry, MlflowRegistryArgs
    from .model_package_groups import ModelPackageGroups, ModelPackageGroupsArgs
    from .model_registry import ModelRegistry, ModelRegistryArgs
    from .sagemaker_registry import SageMakerRegistry, SageMakerRegistryArgs

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "ModelRegistryLike": "artifacts", "IngressConfig": "config", "MlflowModelRegistryConfig": "config",
    "SageMakerModelRegistryConfig": "config", "TrackingServerConfig": "config", "MlflowRegistry": "mlflow_registry",
    "MlflowRegistryArgs": "mlflow_registry", "ModelPackageGroups": "model_package_groups",
    "ModelPackageGroupsArgs": "model_package_groups", "ModelRegistry": "model_registry",
    "ModelRegistryArgs": "model_registry", "SageMakerRegistry": "sagemaker_registry",
    "SageMakerRegistryArgs": "sagemaker_registry",
}

__all__ = [
    "IngressConfig", "MlflowModelRegistryConfig", "MlflowRegistry", "MlflowRegistryArgs", "ModelPackageGroups",
    "ModelPackageGroupsArgs", "ModelRegistry", "ModelRegistryArgs", "ModelRegistryLike",
    "SageMakerModelRegistryConfig", "SageMakerRegistry", "SageMakerRegistryArgs", "TrackingServerConfig",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
