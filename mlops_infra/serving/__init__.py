"""Model serving: KServe InferenceServices reading models from the registry's artifact bucket."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import (
        CanaryConfig,
        ExposureConfig,
        OidcAuthConfig,
        RuntimesConfig,
        SageMakerModelConfig,
        SageMakerServingConfig,
        ServedModelConfig,
        ServingConfig,
    )
    from .model_serving import ModelServing, ModelServingArgs
    from .sagemaker_serving import SageMakerServing, SageMakerServingArgs

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "CanaryConfig": "config", "ExposureConfig": "config", "OidcAuthConfig": "config", "RuntimesConfig": "config",
    "SageMakerModelConfig": "config", "SageMakerServingConfig": "config", "ServedModelConfig": "config",
    "ServingConfig": "config", "ModelServing": "model_serving", "ModelServingArgs": "model_serving",
    "SageMakerServing": "sagemaker_serving", "SageMakerServingArgs": "sagemaker_serving",
}

__all__ = [
    "CanaryConfig", "ExposureConfig", "ModelServing", "ModelServingArgs", "OidcAuthConfig", "RuntimesConfig",
    "SageMakerModelConfig", "SageMakerServing", "SageMakerServingArgs", "SageMakerServingConfig",
    "ServedModelConfig", "ServingConfig",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
