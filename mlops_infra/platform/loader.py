"""Turn the stack's `mlops:platform` structured config into a validated `PlatformConfig`, or one `ConfigError`
listing every problem (environment profiles fill unset keys first)."""

from __future__ import annotations

from collections.abc import Container, Mapping
from types import EllipsisType
from typing import Any

from ..config.environments import apply_profile
from ..config.loader import load_config_model, stack_context
from .config import PlatformConfig

CONFIG_NAMESPACE = "mlops"
CONFIG_KEY = "platform"


def load_platform_config(
    raw: Mapping[str, Any] | None,
    *,
    secret_keys: Container[str] | None = None,
    source: str = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}",
    aws_region: str | EllipsisType | None = ...,
) -> PlatformConfig:
    """Validate `raw` (camelCase, as in Pulumi.<stack>.yaml).

    `secret_keys` are the `mlops:` config keys that hold secrets; when given, every secret reference in the
    config must name one of them. `aws_region`: the stack's `aws:region` (None: unset), when reading a stack:
    `region` must then be a Region botocore knows, and equal it (config/regions.py). Raises `ConfigError` with one
    line per problem.
    """
    if isinstance(raw, Mapping):
        raw = apply_profile(dict(raw))
    return load_config_model(PlatformConfig, raw, source=source, context=stack_context(secret_keys, aws_region) or None)
