"""The output contract's building blocks: `Key`, one stack output, and `checked`, which holds a set of outputs to
the keys that declare them. The keys themselves are `CONTRACT` (core, mlops_infra.outputs) and each add-on's
`AddOn.outputs` (platform/addons.py). Add-ons import `Key` from here: this module sits below them and imports none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import PlatformConfig


@dataclass(frozen=True)
class Key:
    """One stack output. `when`: the configs that export it (None: every config). `required`: a consumer's preview
    fails when the output is missing (default: when it is always exported); False for keys added after a release,
    which older platform stacks lack."""

    output: str
    description: str
    secret: bool = False
    when: Callable[[PlatformConfig], bool] | None = None
    required: bool | None = None
    producer: str = ""
    """The platform config that exports it, as a user sets it (e.g. `featureStore.enabled: true`); "" for a key
    every platform stack exports. Named by the error a consumer gets when the output is missing."""

    def exported(self, config: PlatformConfig) -> bool:
        return self.when is None or self.when(config)

    @property
    def always(self) -> bool:
        return self.when is None

    @property
    def must_exist(self) -> bool:
        return self.always if self.required is None else self.required


def checked(keys: Iterable[Key], config: PlatformConfig, values: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """`values` (output name -> value, None for "not exported") as stack outputs, checked against the contract:
    a value for every key exported with `config`, and for no other."""
    declared = {k.output: k for k in keys}
    unknown = sorted(set(values) - set(declared))
    missing = sorted(o for o, k in declared.items() if k.exported(config) and values.get(o) is None)
    extra = sorted(o for o, k in declared.items() if not k.exported(config) and values.get(o) is not None)
    if unknown or missing or extra:
        raise ValueError(f"{owner}: outputs break the contract (undeclared {unknown}, missing {missing}, "
                         f"not expected with this config {extra})")
    return {o: values[o] for o, k in declared.items() if k.exported(config)}
