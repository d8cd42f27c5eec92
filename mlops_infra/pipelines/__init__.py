"""Orchestration: Airflow, Kubeflow Pipelines (Argo Workflows), Metaflow and Prefect on the platform."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .airflow import Airflow, AirflowArgs
    from .config import AirflowConfig, AirflowDagsConfig, KfpConfig, KfpDatabaseConfig, OrchestrationConfig, UiConfig
    from .kfp import KubeflowPipelines, KubeflowPipelinesArgs
    from .metaflow import Metaflow, MetaflowArgs
    from .metaflow_config import MetaflowConfig
    from .prefect import Prefect, PrefectArgs
    from .prefect_cloud import PrefectCloudKey
    from .prefect_config import PrefectCloudConfig, PrefectConfig, PrefectServerConfig
    from .refs import UNGUARDED, Endpoint, EngineRefs, Unguarded

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "Airflow": "airflow", "AirflowArgs": "airflow", "AirflowConfig": "config", "AirflowDagsConfig": "config",
    "KfpConfig": "config", "KfpDatabaseConfig": "config", "OrchestrationConfig": "config", "UiConfig": "config",
    "KubeflowPipelines": "kfp", "KubeflowPipelinesArgs": "kfp", "Metaflow": "metaflow", "MetaflowArgs": "metaflow",
    "MetaflowConfig": "metaflow_config", "Prefect": "prefect", "PrefectArgs": "prefect",
    "PrefectCloudConfig": "prefect_config", "PrefectCloudKey": "prefect_cloud", "PrefectConfig": "prefect_config",
    "PrefectServerConfig": "prefect_config", "Endpoint": "refs", "EngineRefs": "refs", "UNGUARDED": "refs",
    "Unguarded": "refs",
}

__all__ = [
    "UNGUARDED",
    "Airflow",
    "AirflowArgs",
    "AirflowConfig",
    "AirflowDagsConfig",
    "Endpoint",
    "EngineRefs",
    "KfpConfig",
    "KfpDatabaseConfig",
    "KubeflowPipelines",
    "KubeflowPipelinesArgs",
    "Metaflow",
    "MetaflowArgs",
    "MetaflowConfig",
    "OrchestrationConfig",
    "Prefect",
    "PrefectArgs",
    "PrefectCloudConfig",
    "PrefectCloudKey",
    "PrefectConfig",
    "PrefectServerConfig",
    "UiConfig",
    "Unguarded",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
