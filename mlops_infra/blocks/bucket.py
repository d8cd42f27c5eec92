"""A hardened S3 bucket: SSE-KMS with a customer key and bucket key, versioning, public access block,
owner-enforced ownership, TLS-only policy and lifecycle. Grants are methods that include the KMS key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from . import iam
from .kms import KmsKey
from .naming import child, opts


@dataclass(frozen=True)
class LifecycleRule:
    """Expire (or archive) objects under a prefix."""

    id: str
    prefix: str
    expiration_days: int | None = None
    """Delete current objects after N days. Default: never."""
    archive_after_days: int | None = None
    """Transition to GLACIER_IR after N days. Default: never."""


@dataclass(frozen=True)
class VpcEndpointGuard:
    """Deny data access that does not come through these VPC endpoints, except for break-glass roles."""

    vpc_endpoint_ids: Sequence[pulumi.Input[str]]
    break_glass_role_arns: Sequence[str] = ()


@dataclass(frozen=True)
class HardenedBucketArgs:
    kms_key: KmsKey
    tags: dict[str, str]
    protect: bool = False
    """Pulumi `protect` + `retain_on_delete` on the bucket. Default: false."""
    lifecycle: Sequence[LifecycleRule] = field(default_factory=tuple)
    """Extra lifecycle rules. Always added: abort incomplete uploads (7 d), expire noncurrent versions."""
    noncurrent_version_days: int = 90
    """Keep noncurrent versions this long. Default: 90."""
    object_lock_days: int | None = None
    """Object Lock in GOVERNANCE mode with this default retention. Default: off."""
    vpc_endpoint_guard: VpcEndpointGuard | None = None
    """Deny access from outside the VPC endpoint(s). Default: off."""
    extra_policy_statements: Sequence[iam.Statement | pulumi.Output[iam.Statement]] = field(default_factory=tuple)
    """Statements appended to the bucket policy (e.g. a service's write access). Default: none."""


class HardenedBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: HardenedBucketArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:blocks:HardenedBucket", name, None, opts_)
        self._name = name
        self.kms_key = args.kms_key
        bucket = aws.s3.Bucket(
            name,
            object_lock_enabled=True if args.object_lock_days else None,
            tags=args.tags,
            opts=opts(self, stateful=True, protect=args.protect),
        )
        self.bucket_name, self.arn = bucket.bucket, bucket.arn
        ownership = aws.s3.BucketOwnershipControls(
            child(name, "ownership"), bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts(self))
        public_block = aws.s3.BucketPublicAccessBlock(
            child(name, "public-access-block"), bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=opts(self))
        aws.s3.BucketVersioning(
            child(name, "versioning"), bucket=bucket.id,
            versioning_configuration={"status": "Enabled"}, opts=opts(self))
        aws.s3.BucketServerSideEncryptionConfiguration(
            child(name, "encryption"), bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                 "kms_master_key_id": args.kms_key.arn},
                    "bucket_key_enabled": True}],
            opts=opts(self))
        rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
            {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {"prefix": ""},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
            {"id": "expire-noncurrent-versions", "status": "Enabled", "filter": {"prefix": ""},
             "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days}},
        ]
        for rule in args.lifecycle:
            entry: aws.s3.BucketLifecycleConfigurationRuleArgsDict = {
                "id": rule.id, "status": "Enabled", "filter": {"prefix": rule.prefix}}
            if rule.expiration_days is not None:
                entry["expiration"] = {"days": rule.expiration_days}
            if rule.archive_after_days is not None:
                entry["transitions"] = [{"days": rule.archive_after_days, "storage_class": "GLACIER_IR"}]
            rules.append(entry)
        aws.s3.BucketLifecycleConfiguration(child(name, "lifecycle"), bucket=bucket.id, rules=rules, opts=opts(self))
        if args.object_lock_days:
            aws.s3.BucketObjectLockConfiguration(
                child(name, "object-lock"), bucket=bucket.id,
                rule={"default_retention": {"mode": "GOVERNANCE", "days": args.object_lock_days}}, opts=opts(self))
        statements: list[iam.Statement | pulumi.Output[iam.Statement]] = [iam.statement(
            "DenyInsecureTransport", ["s3:*"], [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
            effect="Deny", principals={"AWS": "*"}, conditions={"Bool": {"aws:SecureTransport": "false"}})]
        if args.vpc_endpoint_guard is not None:
            guard = args.vpc_endpoint_guard
            conditions: dict[str, dict[str, object]] = {"StringNotEquals": {"aws:SourceVpce": list(guard.vpc_endpoint_ids)}}
            if guard.break_glass_role_arns:
                conditions["ArnNotLike"] = {"aws:PrincipalArn": list(guard.break_glass_role_arns)}
            statements.append(iam.statement(
                "DenyOutsideVpcEndpoint", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")], effect="Deny", principals={"AWS": "*"},
                conditions=conditions))
        statements.extend(args.extra_policy_statements)
        aws.s3.BucketPolicy(child(name, "policy"), bucket=bucket.id, policy=iam.document(statements),
                            opts=opts(self, depends_on=[public_block, ownership]))
        self.register_outputs({"bucketName": self.bucket_name, "arn": self.arn})

    def objects_arn(self, prefix: str = "") -> pulumi.Output[str]:
        """ARN of the objects under `prefix` (`""` = the whole bucket)."""
        return pulumi.Output.concat(self.arn, "/", f"{prefix.strip('/')}/*" if prefix else "*")

    def read_statements(self, prefix: str = "") -> list[iam.Statement]:
        list_cond = {"StringLike": {"s3:prefix": [f"{prefix.strip('/')}/*"]}} if prefix else None
        return [
            iam.statement("ListBucket", ["s3:ListBucket"], [self.arn], conditions=list_cond),
            iam.statement("ReadObjects", ["s3:GetObject", "s3:GetObjectVersion"], [self.objects_arn(prefix)]),
            self.kms_key.use_statement("DecryptObjects", decrypt_only=True),
        ]

    def write_statements(self, prefix: str = "") -> list[iam.Statement]:
        return [
            *self.read_statements(prefix),
            iam.statement("WriteObjects", ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"],
                          [self.objects_arn(prefix)]),
            self.kms_key.use_statement("EncryptObjects"),
        ]

    def grant_read(self, role: aws.iam.Role, prefix: str = "") -> aws.iam.RolePolicy:
        """Least-privilege read of `prefix` (and decrypt with the bucket's key) for `role`."""
        return self._grant(role, "read", self.read_statements(prefix))

    def grant_write(self, role: aws.iam.Role, prefix: str = "") -> aws.iam.RolePolicy:
        """Read and write of `prefix` (and encrypt/decrypt with the bucket's key) for `role`."""
        return self._grant(role, "write", self.write_statements(prefix))

    def _grant(self, role: aws.iam.Role, verb: str, statements: list[iam.Statement]) -> aws.iam.RolePolicy:
        # Named after both ends so that two grants never collide: `<bucket>-read-<role>`.
        return aws.iam.RolePolicy(child(self._name, f"{verb}-{role._name}"), role=role.id,
                                  policy=iam.document(statements), opts=opts(self))
