"""Shared pydantic base for every config model: camelCase keys, unknown keys rejected, immutable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

Problem = tuple[str, str]
"""A semantic problem: (camelCase field path relative to the model, message)."""


class ConfigModel(BaseModel):
    """Base of all config models.

    Keys are camelCase as written in `Pulumi.<stack>.yaml`; snake_case is accepted from Python.
    Unknown keys are errors so that a typo is never silently ignored.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )

    def problems(self) -> Iterable[Problem]:
        """Cross-field checks of this model. Override; yield (relative path, message)."""
        return ()

    def context_problems(self, context: Mapping[str, Any]) -> Iterable[Problem]:
        """Checks that need facts from outside the config (e.g. which config keys are secrets)."""
        return ()

    @model_validator(mode="after")
    def _report_problems(self, info: ValidationInfo) -> ConfigModel:
        found = [*self.problems(), *self.context_problems(info.context or {})]
        if found:
            # One error carries every problem of this model; the formatter expands it into one line each.
            raise PydanticCustomError("mlops_problems", "{summary}", {"summary": "; ".join(m for _, m in found),
                                                                       "problems": found})
        return self
