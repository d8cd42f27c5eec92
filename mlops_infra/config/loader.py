"""Turn raw structured config into a validated `PlatformConfig`, or one `ConfigError` listing every problem."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from .base import ConfigModel
from .environments import apply_profile
from .errors import ConfigError, problems_from_validation_error
from .platform import PlatformConfig

M = TypeVar("M", bound=ConfigModel)

CONFIG_NAMESPACE = "mlops"
CONFIG_KEY = "platform"


def load_platform_config(
    raw: Mapping[str, Any] | None,
    *,
    secret_keys: Container[str] | None = None,
    source: str = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}",
) -> PlatformConfig:
    """Validate `raw` (camelCase, as in Pulumi.<stack>.yaml).

    `secret_keys` are the `mlops:` config keys that hold secrets; when given, every secret reference in the
    config must name one of them. Raises `ConfigError` with one line per problem.
    """
    if isinstance(raw, Mapping):
        raw = apply_profile(dict(raw))
    context = {"secret_keys": secret_keys} if secret_keys is not None else None
    return load_config_model(PlatformConfig, raw, source=source, context=context)


def load_config_model(
    model: type[M], raw: Any, *, source: str, context: Mapping[str, Any] | None = None
) -> M:
    """Validate any config model, reporting every problem by path in one `ConfigError`."""
    if raw is None:
        raise ConfigError(["(root): required (set the structured config value)"], source)
    if not isinstance(raw, Mapping):
        raise ConfigError([f"(root): must be a mapping (got {type(raw).__name__})"], source)
    try:
        return model.model_validate(dict(raw), context=context)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation_error(exc), source) from None
