"""Data versioning (LakeFS, DVC remotes) and vector search (Qdrant)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import DataConfig, DvcConfig, LakeFsConfig
    from .dvc import DvcRemotes, DvcRemotesArgs
    from .lakefs import LakeFs, LakeFsArgs
    from .qdrant import Qdrant, QdrantArgs
    from .qdrant_config import QdrantConfig, QdrantSnapshotsConfig

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "DataConfig": "config", "DvcConfig": "config", "LakeFsConfig": "config", "DvcRemotes": "dvc",
    "DvcRemotesArgs": "dvc", "LakeFs": "lakefs", "LakeFsArgs": "lakefs", "Qdrant": "qdrant", "QdrantArgs": "qdrant",
    "QdrantConfig": "qdrant_config", "QdrantSnapshotsConfig": "qdrant_config",
}

__all__ = [
    "DataConfig", "DvcConfig", "DvcRemotes", "DvcRemotesArgs", "LakeFs", "LakeFsArgs", "LakeFsConfig", "Qdrant",
    "QdrantArgs", "QdrantConfig", "QdrantSnapshotsConfig",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
