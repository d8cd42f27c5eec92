"""MlopsPlatform: composes the platform's components from one validated config."""

from __future__ import annotations

import pulumi

from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.naming import child
from ..config import PlatformConfig


class MlopsPlatform(pulumi.ComponentResource):
    """The whole platform for one environment. Its outputs are the contract consumer stacks rely on."""

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:platform:MlopsPlatform", name, None, opts)
        tags = config.resource_tags
        self.data_key = KmsKey(child(name, "data-key"), KmsKeyArgs(
            description=f"{name} platform data", tags=tags, protect=config.protect_stateful),
            pulumi.ResourceOptions(parent=self))
        self.shared_bucket = HardenedBucket(child(name, "shared"), HardenedBucketArgs(
            kms_key=self.data_key, tags=tags, protect=config.protect_stateful,
            lifecycle=[LifecycleRule(id="expire-scratch", prefix="scratch/", expiration_days=30)]),
            pulumi.ResourceOptions(parent=self))
        self.outputs: dict[str, pulumi.Output[str]] = {
            "sharedBucketName": self.shared_bucket.bucket_name,
            "dataKeyArn": self.data_key.arn,
        }
        self.register_outputs(dict(self.outputs))

    def export(self) -> None:
        """Export the platform's documented stack outputs."""
        for key, value in self.outputs.items():
            pulumi.export(key, value)
