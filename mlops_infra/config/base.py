"""Shared pydantic base for every config model: camelCase keys, unknown keys rejected, immutable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

Problem = tuple[str, str]
"""A semantic problem: (camelCase field path relative to the model, message)."""

ENGINE_TAG = "engine:"
"""Prefix of the tag of each engine variant. Pydantic puts the chosen tag in an error's location
(`featureStore`, `engine:feast`, `online`); `config.errors` drops it, so paths read as the YAML does."""


def engine_tag(engine: str) -> Tag:
    """Annotate one variant of an engine union: `Annotated[FeastConfig, engine_tag("feast")]`."""
    return Tag(f"{ENGINE_TAG}{engine}")


def engine_discriminator(default: str) -> Discriminator:
    """Pick an engine union's variant by its `engine` key, `default` when the key is absent (as in YAML that
    never names the engine)."""

    def pick(value: Any) -> str:
        engine = value.get("engine", default) if isinstance(value, Mapping) else getattr(value, "engine", default)
        return f"{ENGINE_TAG}{engine}"

    return Discriminator(pick)


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
