"""A customer-managed KMS key with rotation on and an explicit key policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from . import iam
from .naming import child, opts


@dataclass(frozen=True)
class KmsKeyArgs:
    description: str
    tags: dict[str, str]
    service_principals: Sequence[str] = ()
    """AWS services allowed to use the key on this account's behalf (e.g. `logs.us-east-1.amazonaws.com`). Default: none."""
    deletion_window_days: int = 30
    """Waiting period before deletion. Default: 30 (the maximum)."""
    protect: bool = False
    """Pulumi `protect` + `retain_on_delete`. Default: false."""
    alias: str | None = None
    """Alias name without `alias/`. Default: none."""
    extra_statements: Sequence[iam.Statement] = field(default_factory=tuple)


class KmsKey(pulumi.ComponentResource):
    """Why a component: every key gets the same rotation, deletion window and key-policy shape."""

    arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: KmsKeyArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:blocks:KmsKey", name, None, opts_)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        root = pulumi.Output.format("arn:{0}:iam::{1}:root", partition.partition, identity.account_id)
        statements: list[iam.Statement] = [
            iam.statement("AccountAdministers", ["kms:*"], ["*"], principals={"AWS": root}),
        ]
        if args.service_principals:
            statements.append(iam.statement(
                "ServicesUseKey",
                ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                ["*"],
                principals={"Service": sorted(args.service_principals)},
                conditions={"StringEquals": {"aws:SourceAccount": identity.account_id}},
            ))
        statements.extend(args.extra_statements)
        key = aws.kms.Key(
            name,
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=iam.document(statements),
            tags=args.tags,
            opts=opts(self, stateful=True, protect=args.protect),
        )
        if args.alias:
            aws.kms.Alias(child(name, "alias"), name=f"alias/{args.alias}", target_key_id=key.key_id, opts=opts(self))
        self.arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"arn": self.arn, "keyId": self.key_id})

    def use_statement(self, sid: str, *, decrypt_only: bool = False) -> iam.Statement:
        """The statement a workload needs to read (and optionally write) data encrypted with this key."""
        actions = ["kms:Decrypt", "kms:DescribeKey"] if decrypt_only else \
            ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt*"]
        return iam.statement(sid, actions, [self.arn])
