"""Modules of a released mlops-infra that moved (issue 29): importing one by its old path fails with an ImportError
that names its new home, instead of a bare "No module named ...". A plain ImportError, not a ModuleNotFoundError:
`from package import module` swallows the latter into "cannot import name", losing the message.

A finder at the end of `sys.meta_path` answers only for these names, and only after every real finder found
nothing, so it never shadows a module; no stub file exists at the old paths, so nothing that walks the package's
modules (the public API, the import graph) sees them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

MOVED: dict[str, tuple[str, str]] = {
    "mlops_infra.config.platform": ("mlops_infra.platform.config", "PlatformConfig and its validation"),
    "mlops_infra.config.stack_set": ("mlops_infra.platform.stack_set", "the stack-set clash checks"),
    "mlops_infra.compute.cluster_access": ("mlops_infra.compute._cluster_access",
                                           "internal: TrainingCluster builds the OIDC provider and admin access"),
    "mlops_infra.compute.cluster_nodes": ("mlops_infra.compute._cluster_nodes",
                                          "internal: TrainingCluster and GpuNodePool build node roles and templates"),
    "mlops_infra.compute.karpenter_interruption": ("mlops_infra.compute._karpenter_interruption",
                                                   "internal: Karpenter builds its interruption queue"),
    "mlops_infra.data.outputs": ("mlops_infra.platform.addon_data", "the data add-on's output keys (OUTPUTS)"),
    "mlops_infra.data.qdrant_outputs": ("mlops_infra.platform.addon_data", "Qdrant's output keys (QDRANT_OUTPUTS)"),
    "mlops_infra.data.wiring": ("mlops_infra.platform.addon_data", "the platform's data add-on (build)"),
    "mlops_infra.pipelines.outputs": ("mlops_infra.platform.addon_pipelines", "the orchestrators' output keys"),
    "mlops_infra.pipelines.wiring": ("mlops_infra.platform.addon_pipelines", "the platform's pipelines add-on (build)"),
    "mlops_infra.serving.wiring": ("mlops_infra.platform.addon_serving", "the platform's serving add-on (build)"),
}
"""Old module path -> (new module, what lives there). Every module of commit 6bdba72 that no longer exists."""


def message(old: str) -> str:
    new, what = MOVED[old]
    return f"{old} moved to {new} ({what}): `import {new}`"


class MovedModuleFinder:
    """Refuses the moved modules' old paths, naming the new home."""

    @staticmethod
    def find_spec(fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname in MOVED:
            raise ImportError(message(fullname), name=fullname)
        return None


def install() -> None:
    """Append the finder to `sys.meta_path` once."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
