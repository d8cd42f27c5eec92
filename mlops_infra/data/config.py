"""Data versioning config (LakeFS, the per-team DVC remotes) and the `data` section that also holds Qdrant's.

Pure pydantic, no Pulumi. Pins read at treeverse/charts tag `lakefs-1.12.16` (charts/lakefs: Chart.yaml version
1.12.16, values.yaml `image.community.tag: "1.84.0"`) and treeverse/lakeFS tag v1.84.0 (pkg/config/config.go).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from ..config.base import ConfigModel, Problem
from ..config.database import DatabaseConfig
from ..config.types import ChartVersion, K8sName
from .qdrant_config import QdrantConfig

LAKEFS_CHART = "lakefs"
LAKEFS_REPO = "https://charts.lakefs.io"
LAKEFS_CHART_VERSION = "1.12.16"
LAKEFS_IMAGE_TAG = "1.84.0"
"""The chart's own default (`image.community.tag` at lakefs-1.12.16); lakefs-sdk is pinned to the same version."""
LAKEFS_SERVER_PORT = 8000
"""The chart's `deployment.port`: API, S3 gateway, UI and /metrics (team egress policies admit it in prod)."""
# The real-software tests' pins (.ci/venvs/dvc.sh): the newest releases on PyPI in Nov 2026.
DVC_VERSION = "3.67.1"
DVC_S3_VERSION = "3.3.0"


PROTECTED_SECRET_RECOVERY_DAYS = 30
"""The recovery window of a protected component's fixed-name secrets (Secrets Manager's maximum)."""


def secret_recovery_window(days: int | None, protect: bool) -> int:
    """The recovery window a component gives its fixed-name secrets: `days` when configured, else 30 when the
    component is protected and 0 when not. A secret still in its window keeps its name: an unprotected stack destroyed
    and brought up again within it fails to create it ("scheduled for deletion"), so unprotected means deleted at
    once."""
    if days is not None:
        return days
    return PROTECTED_SECRET_RECOVERY_DAYS if protect else 0


class LakeFsConfig(ConfigModel):
    """LakeFS: Git-like branches and commits over an S3 blockstore, metadata in Postgres."""

    enabled: bool = Field(False, description="Run LakeFS. Default: false (profiles: staging and prod true).")
    namespace: K8sName = Field("lakefs", description="Namespace of LakeFS. Default: lakefs.")
    chart_version: ChartVersion = Field(LAKEFS_CHART_VERSION,
                                        description=f"lakefs chart version. Default: {LAKEFS_CHART_VERSION}.")
    image_tag: str = Field(LAKEFS_IMAGE_TAG, pattern=r"^\d+\.\d+\.\d+$",
                           description=f"treeverse/lakefs image tag. Default: {LAKEFS_IMAGE_TAG} (the chart's).")
    replicas: int = Field(1, ge=1, le=10, description="Server replicas (stateless). Default: 1 (profile: prod 2).")
    cpu: str = Field("500m", description="CPU request and limit per replica. Default: 500m.")
    memory: str = Field("1Gi", description="Memory request and limit per replica. Default: 1Gi.")
    cache_size_gib: int = Field(
        5, ge=1, le=100, description="emptyDir for LakeFS's committed-metadata cache (GiB). Default: 5.")
    repository_prefix: str = Field(
        "repos", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Key prefix in the blockstore bucket under which users create repositories (their storage "
        "namespace is `s3://<bucket>/<prefix>/<repository>`); the server's role may only touch it. Default: repos.")
    admin_user: str = Field("admin", pattern=r"^[a-z][a-z0-9._-]{0,63}$",
                            description="User name of the initial admin (credentials in Secrets Manager). "
                            "Default: admin.")
    client_namespaces: list[K8sName] = Field(
        default_factory=list, description="Namespaces admitted to the LakeFS API and S3 gateway (NetworkPolicy). "
        "Default: none (then every team namespace).")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="LakeFS's Postgres (metadata).")
    secret_recovery_window_days: int | None = Field(
        None, ge=0, le=30, description="Secrets Manager recovery window of LakeFS's secrets (fixed names, "
        "`<component>/lakefs*`): 0 (deleted at once, so a stack destroyed and brought up again can reuse the names) or "
        "7-30. Default: follows protection (`secret_recovery_window`): 30 when the component is protected, 0 when not "
        "(profiles: dev and staging 0).")

    def problems(self) -> Iterable[Problem]:
        if self.secret_recovery_window_days is not None and 0 < self.secret_recovery_window_days < 7:
            yield "secretRecoveryWindowDays", "must be 0 or 7-30 (Secrets Manager's RecoveryWindowInDays)"


class DvcConfig(ConfigModel):
    """DVC remotes: one per team (`cluster.teams`), each a prefix of one hardened bucket."""

    enabled: bool = Field(False, description="Create the teams' DVC remotes. Default: false (profiles: staging and "
                                             "prod true).")
    backend: Literal["s3", "lakefs"] = Field(
        "s3", description="`s3`: remotes are prefixes of the platform's DVC bucket, reached with IAM (team roles "
        "attach the managed grants). `lakefs` is refused: lakeFS open source has one user with one key (the "
        "admin's, `lakefsAdminSecretArn`) and nothing delivers a key to a team, so a per-team remote through its S3 "
        "gateway cannot be authorised; LakeFS through DVC is for the admin only (README, Data versioning). "
        "Default: s3.")
    noncurrent_version_days: int = Field(
        90, ge=1, le=3650, description="Keep overwritten or deleted remote objects this long (versioned bucket). "
        "Default: 90.")


class DataConfig(ConfigModel):
    """Data versioning (LakeFS, DVC remotes) and vector search (Qdrant)."""

    lakefs: LakeFsConfig = Field(default_factory=LakeFsConfig, description="LakeFS.")
    dvc: DvcConfig = Field(default_factory=DvcConfig, description="Per-team DVC remotes.")
    qdrant: QdrantConfig = Field(default_factory=QdrantConfig, description="Qdrant vector search.")

    def problems(self) -> Iterable[Problem]:
        if self.dvc.backend == "lakefs":
            yield "dvc.backend", ("lakefs is admin-only and not offered per team: lakeFS open source has one user "
                                  "with one key (the admin's) and nothing delivers a key to teams; use s3 (per-team "
                                  "IAM grants), and use LakeFS's gateway with the admin key by hand (README)")

    def namespace_owners(self) -> list[tuple[str, str]]:
        """(path relative to `data`, namespace) of every enabled component that creates its namespace."""
        return [(f"{path}.namespace", c.namespace) for path, c in (("lakefs", self.lakefs), ("qdrant", self.qdrant))
                if c.enabled]

    @property
    def namespaces(self) -> set[str]:
        """Namespaces the data concern creates."""
        out = {self.lakefs.namespace} if self.lakefs.enabled else set()
        return out | ({self.qdrant.namespace} if self.qdrant.enabled else set())
