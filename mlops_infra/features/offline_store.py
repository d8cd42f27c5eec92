"""What every feature-store engine has: a KMS key, the offline-store bucket and its grants, and the `FeatureStoreLike`
Protocol that the platform and other stacks' consumers program against (FeastFeatureStore, SageMakerFeatureStore).

`grant_read(role)` / `grant_write(role)` give another workload (e.g. a training job) least-privilege access to
exactly this store's bucket prefixes, tables or feature groups, and its KMS key. `read_policy`, the read grant's
managed policy (exported for roles in other stacks), is created with the store, not on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule, VpcEndpointGuard
from ..blocks.grants import CallablePolicy, Grant, Grants
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.naming import child, renamed_type

OFFLINE_PREFIX = "offline"
STAGING_PREFIX = "staging"
LEGACY_TYPE = "mlops:feature_store:FeatureStore"
"""The type token both engines had as one `FeatureStore` component: each aliases it (released URNs)."""
READ_DESCRIPTION = "Read the feature store"
"""IAM replaces a policy whose description changes: the released read policy keeps this one."""


@runtime_checkable
class FeatureStoreLike(Protocol):
    """What every feature-store engine exposes: its offline bucket and key, and least-privilege grants."""

    kms_key: KmsKey
    bucket: HardenedBucket
    offline_bucket_name: pulumi.Output[str]
    read_policy: CallablePolicy
    """The read grant's managed policy (the one `grant_read` attaches), for roles in other stacks."""
    outputs: dict[str, pulumi.Output[Any]]

    def read_statements(self) -> list[iam.Statement]: ...

    def write_statements(self) -> list[iam.Statement]: ...

    def grant_read(self, role: aws.iam.Role) -> Grant: ...

    def grant_write(self, role: aws.iam.Role) -> Grant: ...


class OfflineFeatureStore(pulumi.ComponentResource):
    """The part both engines share; an engine builds its stores between `_offline` and `_done`."""

    kms_key: KmsKey
    bucket: HardenedBucket
    offline_bucket_name: pulumi.Output[str]
    read_policy: CallablePolicy
    outputs: dict[str, pulumi.Output[Any]]

    def __init__(self, name: str, type_: str, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(type_, name, None, renamed_type(opts, LEGACY_TYPE))

    def _offline(self, name: str, *, tags: dict[str, str], protect: bool, kms_key: KmsKey | None,
                 guard: VpcEndpointGuard | None, lifecycle: Sequence[LifecycleRule] = ()) -> None:
        """The key (or the caller's) and the offline bucket, under the released child names."""
        self._grants = Grants(self, name, tags)
        self.kms_key = kms_key or KmsKey(child(name, "key"), KmsKeyArgs(
            description=f"{name}: feature store data", tags=tags, protect=protect), pulumi.ResourceOptions(parent=self))
        self.bucket = HardenedBucket(child(name, "offline"), HardenedBucketArgs(
            kms_key=self.kms_key, tags=tags, protect=protect, vpc_endpoint_guard=guard,
            lifecycle=list(lifecycle)), pulumi.ResourceOptions(parent=self))
        self.offline_bucket_name = self.bucket.bucket_name
        self.outputs = {"offlineBucketName": self.bucket.bucket_name, "kmsKeyArn": self.kms_key.arn}

    def _done(self) -> None:
        """The read policy, eagerly (its statements name every store built), then the outputs."""
        self.read_policy = self._grants.policy("read", self.read_statements, READ_DESCRIPTION)
        self.register_outputs(dict(self.outputs))

    def read_statements(self) -> list[iam.Statement]:
        raise NotImplementedError

    def write_statements(self) -> list[iam.Statement]:
        raise NotImplementedError

    def grant_read(self, role: aws.iam.Role) -> Grant:
        """Least-privilege read for `role` (see `read_statements`): `read_policy` attached to it. Idempotent per
        role."""
        return self._grants.grant(role, "read", self.read_statements, READ_DESCRIPTION)

    def grant_write(self, role: aws.iam.Role) -> Grant:
        """Least-privilege read and write for `role` (see `write_statements`), a managed policy attached to it.
        Idempotent per role."""
        return self._grants.grant(role, "write", self.write_statements, "Read and write the feature store")
