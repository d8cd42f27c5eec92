"""Qdrant's stack outputs (mlops_infra.outputs.Key), exported when `data.qdrant.enabled`. Kept apart from
qdrant_config.py, which stays Pulumi-free (mlops_infra.outputs imports Pulumi)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..outputs import Key

if TYPE_CHECKING:
    from ..config import PlatformConfig


def _qdrant(c: PlatformConfig) -> bool:
    return c.data.qdrant.enabled


def _snapshots(c: PlatformConfig) -> bool:
    return c.data.qdrant.enabled and c.data.qdrant.snapshots.enabled


QDRANT_OUTPUTS: tuple[Key, ...] = (
    Key("qdrantUrl", "Qdrant's REST API inside the cluster (granted namespaces only).", when=_qdrant, required=False),
    Key("qdrantGrpcUrl", "Qdrant's gRPC API inside the cluster.", when=_qdrant, required=False),
    Key("qdrantNamespace", "Qdrant's namespace.", when=_qdrant, required=False),
    Key("qdrantCredentialsSecret", "The Secret in each granted namespace with QDRANT_URL and QDRANT_API_KEY "
        "(read-write or read-only key, per `data.qdrant.clientNamespaces`/`readOnlyNamespaces`).",
        when=_qdrant, required=False),
    Key("qdrantSnapshotBucket", "The bucket the snapshot CronJob writes (`snapshots/<node>/<collection>/`).",
        when=_snapshots, required=False),
)
