"""The data add-on: LakeFS, the teams' DVC remotes and (h-data-b's) Qdrant, from the platform's context."""

from __future__ import annotations

from typing import Any

import pulumi

from ..blocks.namespace import PLATFORM_CLIENT
from ..blocks.naming import child
from ..platform.addons import PlatformContext
from .dvc import DvcRemotes, DvcRemotesArgs
from .lakefs import LakeFs, LakeFsArgs
from .outputs import OUTPUTS

__all__ = ["OUTPUTS", "build"]


def build(ctx: PlatformContext) -> dict[str, Any]:
    """Each enabled part's components under the platform; returns their stack outputs (camelCase)."""
    cfg = ctx.config.data
    teams = sorted(t.name for t in ctx.config.cluster.teams)
    outputs: dict[str, Any] = {}
    lakefs = None
    if cfg.lakefs.enabled:
        lakefs = LakeFs(child(ctx.name, "lakefs"), LakeFsArgs(
            config=cfg.lakefs, network=ctx.network, cluster=ctx.cluster, kms_key=ctx.data_key, region=ctx.config.region,
            tags=ctx.tags, client_namespaces=cfg.lakefs.client_namespaces or teams, protect=ctx.protect,
            # Admitting every team admits team workspaces too (their namespaces carry PLATFORM_CLIENT).
            client_namespace_labels=None if cfg.lakefs.client_namespaces else PLATFORM_CLIENT,
            bucket_guard=ctx.bucket_guard, monitoring=ctx.monitoring, external_secrets=ctx.external_secrets),
            ctx.k8s_opts)
        ctx.add_bucket(lakefs.bucket)
        outputs |= {"lakefsEndpoint": lakefs.endpoint, "lakefsRepositoryNamespace": lakefs.repository_namespace,
                    "lakefsAdminSecretArn": lakefs.secret_arn, "lakefsDatabaseEndpoint": lakefs.database_endpoint}
    if cfg.dvc.enabled:
        remotes = DvcRemotes(child(ctx.name, "dvc"), DvcRemotesArgs(
            teams=teams, region=ctx.config.region, tags=ctx.tags, kms_key=ctx.data_key, backend=cfg.dvc.backend,
            lakefs_endpoint=lakefs.endpoint if lakefs is not None else None, protect=ctx.protect,
            bucket_guard=ctx.bucket_guard, noncurrent_version_days=cfg.dvc.noncurrent_version_days),
            pulumi.ResourceOptions(parent=ctx.parent))
        if remotes.bucket is not None:
            ctx.add_bucket(remotes.bucket)
        outputs["dvcRemotes"] = {team: remote.output() for team, remote in remotes.teams.items()}
    if cfg.qdrant.enabled:
        from .qdrant import build_qdrant  # h-data-b's component (mlops_infra/data/qdrant.py)
        outputs |= build_qdrant(ctx, cfg.qdrant)
    return outputs
