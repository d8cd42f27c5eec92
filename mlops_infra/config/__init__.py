"""Shared config pieces (pure pydantic, no Pulumi): base, errors, loader, environments, types, versions, and the
small shared models (database, instances, budget). Every concern's config (`mlops_infra.<concern>.config`) builds
on them; nothing here imports a concern.

`PlatformConfig`, which composes the concern configs, is one layer up: `mlops_infra.platform.config`, loaded by
`mlops_infra.platform.loader.load_platform_config`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .base import ConfigModel
    from .budget import BudgetConfig, CostAssumptionsConfig
    from .database import DatabaseConfig

_MOVED = {"PlatformConfig": "mlops_infra.platform.config", "TagsConfig": "mlops_infra.platform.config",
          "load_platform_config": "mlops_infra.platform.loader", "CONFIG_KEY": "mlops_infra.platform.loader",
          "CONFIG_NAMESPACE": "mlops_infra.platform.loader"}

# The public API (tests/data/public-api.txt pins it) beyond ConfigError: each name and the module that defines it,
# imported on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {"ConfigModel": "base", "BudgetConfig": "budget", "CostAssumptionsConfig": "budget",
            "DatabaseConfig": "database"}

__all__ = ["BudgetConfig", "ConfigError", "ConfigModel", "CostAssumptionsConfig", "DatabaseConfig"]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use. For names that moved up a layer, an error saying where
    (importing them here would be an import cycle): an ImportError, not an AttributeError, since `from
    mlops_infra.config import PlatformConfig` turns an AttributeError into a bare "cannot import name" and drops this
    message; an ImportError reaches the user as written."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _MOVED:
        raise ImportError(f"{name} moved to {_MOVED[name]}: `from {_MOVED[name]} import {name}` (the config "
                             "package holds only what every concern shares)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
