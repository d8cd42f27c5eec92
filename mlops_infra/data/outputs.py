"""The data add-on's stack outputs (mlops_infra.outputs.Key): LakeFS, the DVC remotes, and Qdrant's (declared by
its own module)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..outputs import Key
from .qdrant_outputs import QDRANT_OUTPUTS

if TYPE_CHECKING:
    from ..config import PlatformConfig


def _lakefs(c: PlatformConfig) -> bool:
    return c.data.lakefs.enabled


def _dvc(c: PlatformConfig) -> bool:
    return c.data.dvc.enabled


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

OUTPUTS: tuple[Key, ...] = (*DATA_VERSIONING_OUTPUTS, *QDRANT_OUTPUTS)
