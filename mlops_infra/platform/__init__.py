"""The composition: `MlopsPlatform` builds every concern from one `PlatformConfig`; `TeamWorkspace` is the
per-team stack that consumes the platform's outputs.

Those two are imported from their modules (`mlops_infra.platform.mlops_platform`, `.team_workspace`), not from this
package: they build the output contract (`mlops_infra.outputs`), which reads this package, so exporting them here
would close an import cycle. The package exports the config, its loader and the add-on registration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .addons import AddOn, PlatformContext
    from .config import PlatformConfig, TagsConfig
    from .loader import load_platform_config
    from .stack_set import load_stack_set
    from .team_config import TeamWorkspaceConfig

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "AddOn": "addons", "PlatformContext": "addons", "PlatformConfig": "config", "TagsConfig": "config",
    "load_platform_config": "loader", "load_stack_set": "stack_set", "TeamWorkspaceConfig": "team_config",
}

_MODULES: dict[str, Callable[[], ModuleType]] = {  # constant names: the import graph sees each edge
    "addons": lambda: importlib.import_module(".addons", __name__),
    "config": lambda: importlib.import_module(".config", __name__),
    "loader": lambda: importlib.import_module(".loader", __name__),
    "stack_set": lambda: importlib.import_module(".stack_set", __name__),
    "team_config": lambda: importlib.import_module(".team_config", __name__),
}

__all__ = [
    "AddOn", "PlatformConfig", "PlatformContext", "TagsConfig", "TeamWorkspaceConfig", "load_platform_config",
    "load_stack_set",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_MODULES[module](), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
