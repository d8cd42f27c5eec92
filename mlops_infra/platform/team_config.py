"""Config of a team workspace stack, composed on top of a platform stack through a StackReference."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..compute.gpu_config import GpuPoolConfig
from ..config.base import ConfigModel
from ..config.types import K8sName
from .config import TagsConfig

Credential = Literal["mlflow", "qdrant"]
ALL_CREDENTIALS: tuple[Credential, ...] = ("mlflow", "qdrant")


class TeamWorkspaceConfig(ConfigModel):
    """`team:workspace` in the team project's `Pulumi.<stack>.yaml`."""

    platform_stack: str = Field(
        ..., pattern=r"^[\w.-]+/[\w.-]+/[\w.-]+$",
        description="The platform stack to build on, `<org>/<project>/<stack>`. Required.")
    namespace: K8sName = Field(..., description="The team's namespace. When the platform guards its teams' egress "
        "(securityBaseline.exfiltrationGuards), the workspace writes that guard here, so the platform must list the "
        "namespace in `cluster.workspaces` (its `egressGuardedNamespaces` output): refused otherwise. Required.")
    gpu_quota: int = Field(4, ge=0, le=1024, description="Quota on requests.nvidia.com/gpu. Default: 4.")
    service_account: K8sName = Field("workload", description="ServiceAccount the team's jobs run as. Default: workload.")
    tags: TagsConfig = Field(..., description="Cost and ownership tags of the team. Required.")
    workload_identity: Literal["irsa", "podIdentity"] | None = Field(
        None, description="How the workspace's pods get AWS credentials; must match the platform's "
        "`workloadIdentity` output. Default: that output.")
    gpu_pool: GpuPoolConfig | None = Field(None, description="The team's own GPU pool. Default: none (shared pools).")
    credentials: list[Credential] = Field(
        default_factory=lambda: list(ALL_CREDENTIALS),
        description="Credentials the platform delivers to this namespace through External Secrets (it must list the "
        "namespace in `cluster.workspaces`): the Secrets `mlflow-credentials` and `qdrant-credentials`, as a "
        "platform team gets them. Default: both (empty: none, e.g. a platform without MLflow auth or Qdrant).")
    dvc_remote: Literal["none", "read", "write"] = Field(
        "none", description="Attach the platform's managed grant on this team's DVC remote (output "
        "`dvcRemotes.<namespace>`, s3 backend): `read`, or `write` (read and write). Default: none.")
