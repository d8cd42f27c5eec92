"""Typed platform config (pure pydantic, no Pulumi): the shared pieces (base, errors, loader, environments, types,
versions) and `PlatformConfig`, which composes the concern configs (`mlops_infra.<concern>.config`).

The loader and the platform config are imported on first use: they import every concern's config, and each concern
config imports this package's shared modules, so importing them here eagerly would be a cycle whenever a concern
config is imported first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .loader import CONFIG_KEY, CONFIG_NAMESPACE, load_platform_config
    from .platform import PlatformConfig, TagsConfig

_LAZY = {"CONFIG_KEY": "loader", "CONFIG_NAMESPACE": "loader", "load_platform_config": "loader",
         "PlatformConfig": "platform", "TagsConfig": "platform"}

__all__ = ["CONFIG_KEY", "CONFIG_NAMESPACE", "ConfigError", "PlatformConfig", "TagsConfig", "load_platform_config"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value
