"""A customer-managed KMS key with rotation on and an explicit key policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws

from . import iam
from .naming import child, child_options


@dataclass(frozen=True)
class KmsKeyArgs:
    description: str
    tags: dict[str, str]
    service_principals: Sequence[str] = ()
    """AWS services allowed to use the key on this account's behalf, each scoped as its docs allow
    (`service_statements`): `logs.<region>.amazonaws.com`, `cloudtrail.amazonaws.com`, `cloudwatch.amazonaws.com`,
    `events.amazonaws.com`; any other service gets `aws:SourceAccount`. Default: none."""
    deletion_window_days: int = 30
    """Waiting period before deletion. Default: 30 (the maximum)."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete`. Default: true."""
    alias: str | None = None
    """Alias name without `alias/`. Default: none."""
    extra_statements: Sequence[iam.Statement] = field(default_factory=tuple)


USE = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
PUBLISH = ["kms:Decrypt", "kms:GenerateDataKey*"]
"""What a service needs to publish to an encrypted SNS topic (SNS guide, "compatibility between event sources from
AWS services and encrypted topics")."""


def service_statements(principals: Sequence[str], partition: pulumi.Input[str],
                       account: pulumi.Input[str]) -> list[iam.Statement]:
    """One statement per service principal, scoped by what that service puts in its KMS requests.

    - CloudWatch Logs ("Encrypt log data in CloudWatch Logs using AWS KMS", step 2): `ArnLike` on
      `kms:EncryptionContext:aws:logs:arn` = `arn:<partition>:logs:<region>:<account>:log-group:*` (the context is the
      log group's ARN). That is the condition the Logs docs give; `aws:SourceAccount` is not among them, so the old
      SourceAccount condition (which could fail every encrypted log group) is dropped.
    - CloudTrail ("Configure AWS KMS key policies for CloudTrail"): GenerateDataKey* and DescribeKey with `ArnLike`
      `aws:SourceArn` = this account's trails. Not the documented `kms:EncryptionContext:aws:cloudtrail:arn` too: the
      audit bucket uses an S3 Bucket Key, whose data-key requests carry the bucket's context, and CloudTrail refuses
      to create a trail whose key it cannot use. CloudTrail never decrypts (readers decrypt through IAM).
    - CloudWatch alarms publishing to an encrypted topic: `aws:SourceAccount` + `aws:SourceArn` = this account's alarms.
    - EventBridge publishing to an encrypted topic: Decrypt + GenerateDataKey*, only for this account's topics:
      `StringLike` on `kms:EncryptionContext:aws:sns:topicArn` = `arn:<partition>:sns:*:<account>:*` (SNS encrypts each
      message under the topic's ARN as encryption context: SNS developer guide, "Enabling server-side encryption"
      key policy). Not `aws:SourceAccount`/`aws:SourceArn`: EventBridge documents no source keys for SNS targets
      (user guide, "Amazon SNS permissions": no Condition blocks in topic policies for EventBridge; its KMS example
      for encrypted topics has none) and a key the request lacks fails every delivery silently. The topic ARN
      scopes the grant the same way: another account's topic encrypted with this key is refused.
    """
    out: list[iam.Statement] = []
    trails = pulumi.Output.format("arn:{0}:cloudtrail:*:{1}:trail/*", partition, account)
    for principal in sorted(set(principals)):
        service = {"Service": principal}
        if principal.startswith("logs.") and principal.count(".") == 3:
            region = principal.split(".")[1]
            groups = pulumi.Output.format("arn:{0}:logs:{1}:{2}:log-group:*", partition, region, account)
            # No DescribeKey here: it carries no encryption context, so under this condition it could never match
            # (parliament: UNKNOWN_CONDITION_FOR_ACTION; AWS's CloudWatchLogsAPIKeyAccess grants it apart).
            logs_use = [a for a in USE if a != "kms:DescribeKey"]
            out.append(iam.statement(f"Logs{_sid(region)}UsesKey", logs_use, ["*"], principals=service,
                                     conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": groups}}))
        elif principal == "cloudtrail.amazonaws.com":
            source = {"ArnLike": {"aws:SourceArn": trails}}
            out.append(iam.statement("CloudTrailEncryptsLogs", ["kms:GenerateDataKey*"], ["*"], principals=service,
                                     conditions=source))
            out.append(iam.statement("CloudTrailDescribesKey", ["kms:DescribeKey"], ["*"], principals=service,
                                     conditions=source))
        elif principal == "cloudwatch.amazonaws.com":
            alarms = pulumi.Output.format("arn:{0}:cloudwatch:*:{1}:alarm:*", partition, account)
            out.append(iam.statement("CloudWatchAlarmsUseKey", PUBLISH, ["*"], principals=service, conditions={
                "StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": alarms}}))
        elif principal == "events.amazonaws.com":
            topics = pulumi.Output.format("arn:{0}:sns:*:{1}:*", partition, account)
            out.append(iam.statement("EventBridgeUsesKey", PUBLISH, ["*"], principals=service, conditions={
                "StringLike": {"kms:EncryptionContext:aws:sns:topicArn": topics}}))
        else:
            out.append(iam.statement(f"{_sid(principal)}UsesKey", USE, ["*"], principals=service,
                                     conditions={"StringEquals": {"aws:SourceAccount": account}}))
    return out


def _sid(text: str) -> str:
    """`us-east-1` -> `UsEast1` (statement ids are alphanumeric)."""
    return "".join(part.capitalize() for part in text.replace(".", "-").split("-") if part.isalnum())


def use_statement(sid: str, key_arn: pulumi.Input[str], *, decrypt_only: bool = False) -> iam.Statement:
    """The statement a workload needs to read (and optionally write) data encrypted with the key `key_arn`."""
    actions = ["kms:Decrypt", "kms:DescribeKey"] if decrypt_only else \
        ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt*"]
    return iam.statement(sid, actions, [key_arn])


class KeyLike(Protocol):
    """A KMS key a component encrypts with and grants use of: a `KmsKey` made here, or a `KeyRef` to one made
    elsewhere (e.g. the platform's `dataKeyArn`)."""

    @property
    def arn(self) -> pulumi.Input[str]: ...

    def use_statement(self, sid: str, *, decrypt_only: bool = False) -> iam.Statement: ...


@dataclass(frozen=True)
class KeyRef:
    """An existing KMS key, by ARN (e.g. `platform.require_output("dataKeyArn")`): registers nothing. Its key policy
    is its owner's; the grants a component gives (`use_statement`) are IAM statements naming it, which the key policy
    admits when it delegates to IAM (every `KmsKey` does: `AccountAdministers`)."""

    arn: pulumi.Input[str]

    def use_statement(self, sid: str, *, decrypt_only: bool = False) -> iam.Statement:
        """The statement a workload needs to read (and optionally write) data encrypted with this key."""
        return use_statement(sid, self.arn, decrypt_only=decrypt_only)


class KmsKey(pulumi.ComponentResource):
    """Why a component: every key gets the same rotation, deletion window and key-policy shape."""

    arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: KmsKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:blocks:KmsKey", name, None, opts)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        root = pulumi.Output.format("arn:{0}:iam::{1}:root", partition.partition, identity.account_id)
        statements: list[iam.Statement] = [
            iam.statement("AccountAdministers", ["kms:*"], ["*"], principals={"AWS": root}),
            *service_statements(args.service_principals, partition.partition, identity.account_id),
        ]
        statements.extend(args.extra_statements)
        key = aws.kms.Key(
            name,
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=iam.document(statements),
            tags=args.tags,
            opts=child_options(self, stateful=True, protect=args.protect),
        )
        if args.alias:
            aws.kms.Alias(child(name, "alias"), name=f"alias/{args.alias}", target_key_id=key.key_id, opts=child_options(self))
        self.arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"arn": self.arn, "keyId": self.key_id})

    def use_statement(self, sid: str, *, decrypt_only: bool = False) -> iam.Statement:
        """The statement a workload needs to read (and optionally write) data encrypted with this key."""
        return use_statement(sid, self.arn, decrypt_only=decrypt_only)


EC2_VOLUME_SERVICE_LINKED_ROLES = (
    "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",  # managed node groups (Auto Scaling)
    "spot.amazonaws.com/AWSServiceRoleForEC2Spot",  # Spot capacity (Karpenter SPOT, managed SPOT groups)
    "ec2fleet.amazonaws.com/AWSServiceRoleForEC2Fleet",  # EC2 Fleet (Karpenter launches through CreateFleet)
)


def ec2_volume_statements(partition: pulumi.Input[str], account: pulumi.Input[str],
                          region: str) -> list[iam.Statement]:
    """Let the EC2 service-linked roles encrypt node volumes with this key, without naming them as principals.

    A key policy whose Principal names a role that does not exist is rejected (MalformedPolicyDocument), and
    `AWSServiceRoleForAutoScaling`/`AWSServiceRoleForEC2Spot` only exist once an account has used Auto Scaling or
    Spot. So the principal is `*`, narrowed by conditions that are plain strings (never validated for existence):
    the caller is one of those service-linked roles (`aws:PrincipalArn`), in this account (`kms:CallerAccount`),
    calling through EC2 in this region (`kms:ViaService`) - the shape of the AWS managed `aws/ebs` key policy.
    """
    roles = [pulumi.Output.format("arn:{0}:iam::{1}:role/aws-service-role/{2}", partition, account, role)
             for role in EC2_VOLUME_SERVICE_LINKED_ROLES]
    scope: dict[str, dict[str, Any]] = {
        "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"ec2.{region}.amazonaws.com"},
        "ArnEquals": {"aws:PrincipalArn": roles}}
    return [
        iam.statement("Ec2ServiceLinkedRolesUseKey", USE, ["*"], principals={"AWS": "*"}, conditions=scope),
        iam.statement("Ec2ServiceLinkedRolesGrantForVolumes", ["kms:CreateGrant"], ["*"], principals={"AWS": "*"},
                      conditions={**scope, "Bool": {"kms:GrantIsForAWSResource": True}}),
    ]


def ebs_csi_statements(key_arn: pulumi.Input[str]) -> list[iam.Statement]:
    """What the EBS CSI driver needs on a customer key named in a StorageClass (`kmsKeyId`): the grant calls EC2
    makes for the volume, and the data-key calls (aws-ebs-csi-driver docs/install.md, "KMS key policy")."""
    return [
        iam.statement("EbsCsiGrantsForVolumes", ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], [key_arn],
                      conditions={"Bool": {"kms:GrantIsForAWSResource": True}}),
        iam.statement("EbsCsiUsesKey", USE, [key_arn]),
    ]
