"""SageMaker Feature Store: one feature group per config entry, online and offline stores both KMS-encrypted.

SageMaker writes the offline store with a role it assumes; that role may write exactly the bucket prefix and
use exactly the store's key. Glue table creation is off so the role needs no Glue permissions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.bucket import HardenedBucket
from ..blocks.naming import child, opts
from ..config.feature_store import SageMakerFeatureGroup

PREFIX = "sagemaker"
RUNTIME_READ = ["sagemaker-featurestore-runtime:BatchGetRecord", "sagemaker-featurestore-runtime:GetRecord",
                "sagemaker:DescribeFeatureGroup"]
RUNTIME_WRITE = ["sagemaker-featurestore-runtime:DeleteRecord", "sagemaker-featurestore-runtime:PutRecord"]


@dataclass(frozen=True)
class SageMakerFeatureGroupsArgs:
    groups: list[SageMakerFeatureGroup]
    bucket: HardenedBucket
    """The offline store's bucket; groups write under `sagemaker/`."""
    tags: dict[str, str]


class SageMakerFeatureGroups(pulumi.ComponentResource):
    group_arns: list[pulumi.Output[str]]
    group_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: SageMakerFeatureGroupsArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:feature_store_sagemaker:SageMakerFeatureGroups", name, None, opts_)
        bucket, key = args.bucket, args.bucket.kms_key
        trust = iam.trust_document([iam.statement(
            "SageMakerAssumes", ["sts:AssumeRole"], [], principals={"Service": "sagemaker.amazonaws.com"})])
        role = aws.iam.Role(child(name, "offline-role"), assume_role_policy=trust, tags=args.tags, opts=opts(self))
        policy = aws.iam.RolePolicy(child(name, "offline-policy"), role=role.id, policy=iam.document([
            iam.statement("BucketAcl", ["s3:GetBucketAcl"], [bucket.arn]),
            iam.statement("WriteOffline", ["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"],
                          [bucket.objects_arn(PREFIX)]),
            key.use_statement("OfflineKey"),
        ]), opts=opts(self))
        groups = []
        for group in args.groups:
            features = dict(group.features)
            features.setdefault(group.event_time, "String")
            definitions: list[aws.sagemaker.FeatureGroupFeatureDefinitionArgsDict] = [
                {"feature_name": f, "feature_type": t} for f, t in features.items()]
            groups.append(aws.sagemaker.FeatureGroup(
                child(name, group.name),
                feature_group_name=child(name, group.name)[:64],
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
                opts=opts(self, depends_on=[policy]),
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
