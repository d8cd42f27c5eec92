"""The add-ons the platform builds, in build order: one explicit `AddOn` each (`ADD_ON` of its module).

Kept apart from platform/addons.py (`PlatformContext`, `AddOn`), which every add-on imports: listing the add-ons
there would make an import cycle. The add-ons are imported on first use, so `mlops-infra --help` stays light.
"""

from __future__ import annotations

from typing import Any

from .addons import AddOn, PlatformContext
from .output_key import Key


def add_ons() -> list[AddOn]:
    """Every add-on, in build order."""
    from .addon_data import ADD_ON as data
    from .addon_pipelines import ADD_ON as pipelines
    from .addon_serving import ADD_ON as serving
    return [pipelines, serving, data]


def add_on_keys() -> tuple[Key, ...]:
    """Every add-on's declared output keys: part of the platform's output contract (mlops_infra.outputs)."""
    return tuple(key for add_on in add_ons() for key in add_on.outputs)


def build_add_ons(ctx: PlatformContext) -> dict[str, Any]:
    """Build every add-on; each returns exactly the outputs it declares for `ctx.config` (`Key.when`)."""
    outputs: dict[str, Any] = {}
    for add_on in add_ons():
        for key, value in add_on.built(ctx).items():
            if key in outputs:
                raise ValueError(f"two add-ons export the output {key!r}")
            outputs[key] = value
    return outputs
