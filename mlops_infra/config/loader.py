"""Turn raw structured config into a validated config model, or one `ConfigError` listing every problem.

The platform's own config (`PlatformConfig`, which composes every concern's) is loaded by
`mlops_infra.platform.loader.load_platform_config`, one layer up: nothing in `config/` imports a concern."""

from __future__ import annotations

from collections.abc import Container, Mapping
from types import EllipsisType
from typing import Any, TypeVar

from pydantic import ValidationError

from .base import ConfigModel
from .errors import ConfigError, problems_from_validation_error

M = TypeVar("M", bound=ConfigModel)


def stack_context(secret_keys: Container[str] | None, aws_region: str | EllipsisType | None) -> dict[str, Any]:
    """The validation context of a stack's config: its secret keys and its `aws:region`, when known."""
    context: dict[str, Any] = {} if secret_keys is None else {"secret_keys": secret_keys}
    if aws_region is not ...:
        context["aws_region"] = aws_region
    return context


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
