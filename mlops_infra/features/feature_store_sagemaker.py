"""SageMaker Feature Store: one feature group per config entry, online and offline stores both KMS-encrypted.

SageMaker writes the offline store with a role it assumes; that role may write exactly the bucket prefix and
use exactly the store's key. Glue table creation is off so the role needs no Glue permissions.

Record calls are authorised under the `sagemaker:` prefix: IAM has no `sagemaker-featurestore-runtime` service
prefix (that is only the API's endpoint name). Checked against parliament 1.6.4's IAM database (service
`sagemaker`: BatchGetRecord, DeleteRecord, GetRecord, PutRecord, DescribeFeatureGroup; no service
`sagemaker-featurestore-runtime`) and the Service Authorization Reference for Amazon SageMaker AI.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.bucket import HardenedBucket
from ..blocks.naming import child, child_options, renamed_type
from .config import SageMakerFeatureGroup

PREFIX = "sagemaker"
RUNTIME_READ = ["sagemaker:BatchGetRecord", "sagemaker:DescribeFeatureGroup", "sagemaker:GetRecord"]
RUNTIME_WRITE = ["sagemaker:DeleteRecord", "sagemaker:PutRecord"]
NAME_MAX = 64  # CreateFeatureGroup: ^[a-zA-Z0-9]([_-]*[a-zA-Z0-9]){0,63}


def feature_group_name(component: str, group: str) -> str:
    """`<component>-<group>`, cut to 64 characters without a trailing `-`/`_` (which the API rejects)."""
    return child(component, group)[:NAME_MAX].rstrip("-_")


def offline_trust(partition: pulumi.Input[str], region: pulumi.Input[str], account: pulumi.Input[str],
                  names: list[str]) -> pulumi.Output[str]:
    """SageMaker may assume the offline role only for this account's feature groups (confused-deputy guard).

    `...IfExists`: SageMaker's confused-deputy page lists the features that send aws:SourceArn/aws:SourceAccount
    (training, processing, inference, ...) but not Feature Store. A request that carries the keys must match them;
    one that carries none is still allowed, so a Feature Store that omits them keeps writing its offline store.
    """
    arns = [pulumi.Output.format("arn:{0}:sagemaker:{1}:{2}:feature-group/{3}", partition, region, account, n.lower())
            for n in names]
    return iam.trust_document([iam.statement(
        "SageMakerAssumes", ["sts:AssumeRole"], [], principals={"Service": "sagemaker.amazonaws.com"},
        conditions={"StringEqualsIfExists": {"aws:SourceAccount": account},
                    "ArnLikeIfExists": {"aws:SourceArn": arns}})])


@dataclass(frozen=True)
class SageMakerFeatureGroupsArgs:
    groups: list[SageMakerFeatureGroup]
    bucket: HardenedBucket
    """The offline store's bucket; groups write under `sagemaker/`."""
    tags: dict[str, str]


class SageMakerFeatureGroups(pulumi.ComponentResource):
    group_arns: list[pulumi.Output[str]]
    group_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: SageMakerFeatureGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:features:SageMakerFeatureGroups", name, None,
                         renamed_type(opts, "mlops:feature_store_sagemaker:SageMakerFeatureGroups"))
        bucket, key = args.bucket, args.bucket.kms_key
        invoke = pulumi.InvokeOutputOptions(parent=self)
        names = [feature_group_name(name, g.name) for g in args.groups]
        trust = offline_trust(aws.get_partition_output(opts=invoke).partition, aws.get_region_output(opts=invoke).region,
                              aws.get_caller_identity_output(opts=invoke).account_id, names)
        role = aws.iam.Role(child(name, "offline-role"), assume_role_policy=trust, tags=args.tags, opts=child_options(self))
        self.offline_role_arn = role.arn  # the bucket's VPC-endpoint guard exempts it (SageMaker writes from AWS)
        policy = aws.iam.RolePolicy(child(name, "offline-policy"), role=role.id, policy=iam.document([
            iam.statement("BucketAcl", ["s3:GetBucketAcl"], [bucket.arn]),
            iam.statement("WriteOffline", ["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"],
                          [bucket.objects_arn(PREFIX)]),
            key.use_statement("OfflineKey"),
        ]), opts=child_options(self))
        groups = []
        for group, group_name in zip(args.groups, names, strict=True):
            features = dict(group.features)
            features.setdefault(group.event_time, "String")
            definitions: list[aws.sagemaker.FeatureGroupFeatureDefinitionArgsDict] = [
                {"feature_name": f, "feature_type": t} for f, t in features.items()]
            groups.append(aws.sagemaker.FeatureGroup(
                child(name, group.name),
                feature_group_name=group_name,
                record_identifier_feature_name=group.record_identifier,
                event_time_feature_name=group.event_time,
                feature_definitions=definitions,
                online_store_config={"enable_online_store": True, "security_config": {"kms_key_id": key.arn}},
                offline_store_config={
                    "s3_storage_config": {"s3_uri": pulumi.Output.concat("s3://", bucket.bucket_name, f"/{PREFIX}"),
                                          "kms_key_id": key.arn},
                    "disable_glue_table_creation": True},
                role_arn=role.arn,
                tags=args.tags,
                opts=child_options(self, depends_on=[policy]),
            ))
        self.kms_key = key
        self.bucket = bucket
        self.group_arns = [g.arn for g in groups]
        self.group_names = pulumi.Output.all(*[g.feature_group_name for g in groups]).apply(
            lambda names: [str(n) for n in names])
        self.register_outputs({"featureGroupNames": self.group_names})

    def statements(self, *, write: bool) -> list[iam.Statement]:
        """Records of exactly these groups, their offline files, and the key."""
        out = [
            iam.statement("FeatureGroupRecords", RUNTIME_READ + (RUNTIME_WRITE if write else []), list(self.group_arns)),
            iam.statement("OfflineList", ["s3:ListBucket"], [self.bucket.arn],
                          conditions={"StringLike": {"s3:prefix": [f"{PREFIX}/*"]}}),
            iam.statement("OfflineRead", ["s3:GetObject"], [self.bucket.objects_arn(PREFIX)]),
            self.kms_key.use_statement("FeatureStoreKey", decrypt_only=not write),
        ]
        return out
