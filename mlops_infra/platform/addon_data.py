"""The data add-on in the platform (the adapter): LakeFS, the teams' DVC remotes and Qdrant. Builds each
component's Args from `PlatformConfig` and the refs the core hands back, registers what each exposes (its buckets,
service ports, Qdrant's key for the team workspaces) and declares the stack outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from ..blocks.namespace import PLATFORM_CLIENT
from ..blocks.naming import child
from ..data.dvc import DvcRemotes, DvcRemotesArgs
from ..data.lakefs import LakeFs, LakeFsArgs
from ..data.qdrant import PLATFORM_CLIENT_SECRET, Qdrant, QdrantArgs
from .addons import AddOn, PlatformContext
from .output_key import Key

if TYPE_CHECKING:
    from ..data.qdrant_config import QdrantConfig
    from .config import PlatformConfig

__all__ = ["ADD_ON", "OUTPUTS", "build"]


def _lakefs(c: PlatformConfig) -> bool:
    return c.data.lakefs.enabled


def _dvc(c: PlatformConfig) -> bool:
    return c.data.dvc.enabled


def _qdrant(c: PlatformConfig) -> bool:
    return c.data.qdrant.enabled


def _snapshots(c: PlatformConfig) -> bool:
    return c.data.qdrant.enabled and c.data.qdrant.snapshots.enabled


DATA_VERSIONING_OUTPUTS: tuple[Key, ...] = (
    Key("lakefsEndpoint", "LakeFS inside the cluster (API under `/api/v1`, S3 gateway, UI); `lakefs_sdk."
        "Configuration(host=...)` takes `<endpoint>/api/v1`.", when=_lakefs, required=False),
    Key("lakefsRepositoryNamespace", "Where users put repositories: a repository's storage namespace is "
        "`<this>/<repository>`.", when=_lakefs, required=False),
    Key("lakefsAdminSecretArn", "Secrets Manager secret with the initial admin's key pair (`admin_access_key_id`, "
        "`admin_secret_access_key`).", when=_lakefs, required=False),
    Key("lakefsDatabaseEndpoint", "LakeFS's Postgres endpoint (host:port).", when=_lakefs, required=False),
    Key("dvcRemotes", "Per team: `remote` (`url`, `region`, `endpointurl` through LakeFS), `dvcConfig` (the "
        "`.dvc/config` text) and, with the s3 backend, `readPolicyArn`/`writePolicyArn` for the team's role.",
        when=_dvc, required=False),
)

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

OUTPUTS: tuple[Key, ...] = (*DATA_VERSIONING_OUTPUTS, *QDRANT_OUTPUTS)


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
        ctx.service_ports.extend(lakefs.service_ports)  # its API and S3 gateway, through the teams' egress guards
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
        outputs |= _qdrant_on_platform(ctx, cfg.qdrant)
    return outputs


def _qdrant_on_platform(ctx: PlatformContext, config: QdrantConfig) -> dict[str, Any]:
    """Qdrant on the platform: granted namespaces from config (default: every team's, and the team workspaces by
    label), the platform's data key, exfiltration guard, monitoring and External Secrets operator. Outputs are
    prefixed `qdrant`."""
    teams = [t.name for t in ctx.config.cluster.teams]
    qdrant = Qdrant(child(ctx.name, "qdrant"), QdrantArgs(
        config=config, cluster=ctx.cluster, region=ctx.config.region, data_key=ctx.data_key, tags=ctx.tags,
        client_namespaces=list(config.client_namespaces) or teams,
        client_namespace_labels=None if config.client_namespaces else PLATFORM_CLIENT,  # + team workspaces
        read_only_namespaces=list(config.read_only_namespaces),
        # The platform's operator, or another stack's (`ctx.cluster.external_secrets_store`; config checks one runs).
        external_secrets=[ctx.external_secrets] if ctx.external_secrets else [], monitoring=ctx.monitoring, bucket_guard=ctx.bucket_guard,
        client_secret_name=PLATFORM_CLIENT_SECRET,  # the name consumers' pods already mount (and workspaces write)
        protect=ctx.protect), ctx.k8s_opts)
    ctx.service_ports.extend(qdrant.service_ports)  # Qdrant's own ingress policy then admits only the granted ones
    out: dict[str, Any] = {"qdrantUrl": qdrant.url, "qdrantGrpcUrl": qdrant.grpc_url,
                           "qdrantNamespace": config.namespace, "qdrantCredentialsSecret": qdrant.client_secret_name}
    if not config.client_namespaces:  # the teams' key, for team workspaces as well (platform/workspace_credentials.py)
        ctx.workspace_qdrant.append(qdrant)
    if qdrant.snapshots is not None:
        ctx.add_bucket(qdrant.snapshots)
        out["qdrantSnapshotBucket"] = qdrant.snapshot_bucket
    return out


ADD_ON = AddOn("data", build, OUTPUTS)
