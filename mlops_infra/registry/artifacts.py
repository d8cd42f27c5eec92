"""What every model-registry engine has: a KMS key, the artifact bucket and its grants, and the `ModelRegistryLike`
Protocol that the platform and other stacks' consumers program against (MlflowRegistry, SageMakerRegistry).

Training and serving roles get access through `grant_log_models(role)` / `grant_read_models(role)`;
`log_models_policy`, the log-models grant's managed policy (exported for roles in other stacks), is created with the
registry, not on first use.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, VpcEndpointGuard
from ..blocks.grants import CallablePolicy, Grant, Grants
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.naming import child, renamed_type

ARTIFACT_PREFIX = "artifacts"
LEGACY_TYPE = "mlops:model_registry:ModelRegistry"
"""The type token both engines had as one `ModelRegistry` component: each aliases it (released URNs)."""
LOG_MODELS_DESCRIPTION = "Log models to the registry"
"""IAM replaces a policy whose description changes: the released log-models policy keeps this one."""


@runtime_checkable
class ModelRegistryLike(Protocol):
    """What every model-registry engine exposes: its artifact bucket and key, and least-privilege grants."""

    key: KmsKey
    artifacts: HardenedBucket
    artifact_bucket_name: pulumi.Output[str]
    log_models_policy: CallablePolicy
    """The log-models grant's managed policy (the one `grant_log_models` attaches), for roles in other stacks."""

    def log_models_statements(self) -> list[iam.Statement]: ...

    def read_models_statements(self) -> list[iam.Statement]: ...

    def grant_log_models(self, role: aws.iam.Role) -> Grant: ...

    def grant_read_models(self, role: aws.iam.Role) -> Grant: ...


class ArtifactRegistry(pulumi.ComponentResource):
    """The part both engines share; an engine builds its own between `_artifacts` and `_done`."""

    key: KmsKey
    artifacts: HardenedBucket
    artifact_bucket_name: pulumi.Output[str]
    log_models_policy: CallablePolicy

    def __init__(self, name: str, type_: str, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(type_, name, None, renamed_type(opts, LEGACY_TYPE))

    def _artifacts(self, name: str, *, tags: dict[str, str], protect: bool, guard: VpcEndpointGuard | None) -> None:
        """The key and the artifact bucket, under the released child names."""
        self._grants = Grants(self, name, tags)
        self.key = KmsKey(child(name, "key"), KmsKeyArgs(
            description=f"{name}: model artifacts, registry database and its secret", tags=tags,
            protect=protect), pulumi.ResourceOptions(parent=self))
        self.artifacts = HardenedBucket(child(name, "artifacts"), HardenedBucketArgs(
            kms_key=self.key, tags=tags, protect=protect, vpc_endpoint_guard=guard),
            pulumi.ResourceOptions(parent=self))
        self.artifact_bucket_name = self.artifacts.bucket_name

    def _done(self, outputs: dict[str, object]) -> None:
        """The log-models policy, eagerly (its statements name every group built), then the outputs."""
        self.log_models_policy = self._grants.policy("log-models", self.log_models_statements, LOG_MODELS_DESCRIPTION)
        self.register_outputs(outputs)

    def log_models_statements(self) -> list[iam.Statement]:
        """Training roles: write model artifacts under the artifact prefix (for clients that upload directly
        rather than through MLflow's artifact proxy)."""
        return self.artifacts.write_statements(ARTIFACT_PREFIX)

    def read_models_statements(self) -> list[iam.Statement]:
        """Serving roles: read model artifacts under the artifact prefix (and decrypt)."""
        return self.artifacts.read_statements(ARTIFACT_PREFIX)

    def grant_log_models(self, role: aws.iam.Role) -> Grant:
        """`log_models_policy` attached to `role`. Idempotent per role."""
        return self._grants.grant(role, "log-models", self.log_models_statements, LOG_MODELS_DESCRIPTION)

    def grant_read_models(self, role: aws.iam.Role) -> Grant:
        """The read-models managed policy attached to `role`. Idempotent per role."""
        return self._grants.grant(role, "read-models", self.read_models_statements, "Read models from the registry")
