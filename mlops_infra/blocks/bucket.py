"""A hardened S3 bucket: SSE-KMS with a customer key and bucket key, versioning, public access block,
owner-enforced ownership, TLS-only policy and lifecycle. Grants are methods that include the KMS key (managed
policies, idempotent per role: blocks/grants.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_aws as aws

from . import iam
from .grants import Grant, Grants
from .kms import KeyLike
from .naming import child, child_options
from .refs import BucketRefs


@dataclass(frozen=True)
class LifecycleRule:
    """Expire (or archive) objects under a prefix."""

    id: str
    prefix: str
    expiration_days: int | None = None
    """Delete current objects after N days. Default: never."""
    archive_after_days: int | None = None
    """Transition to GLACIER_IR after N days. Default: never."""


# Services that read or write a guarded bucket with the CALLER's credentials (forward access sessions) from their
# own network, so the request carries no aws:SourceVpce (Athena user guide, "Control access to Amazon S3 from
# Athena": "You also cannot restrict or allow access to Amazon S3 resources based on the aws:SourceVpc or
# aws:SourceVpce condition keys"). The exemption names each service in aws:CalledVia, not every service
# (aws:ViaAWSService), so a stolen credential cannot route data out through an arbitrary service.
ATHENA = "athena.amazonaws.com"

# Service-linked roles of the security services that read a bucket's settings from AWS's own network (no
# aws:SourceVpce): IAM Access Analyzer reads the bucket policy, ACL and public access block to find external access;
# GuardDuty's AWSServiceRoleForAmazonGuardDuty (AmazonGuardDutyServiceRolePolicy: s3:GetBucketPolicy,
# GetBucketPolicyStatus, GetBucketAcl, GetBucketPublicAccessBlock, GetEncryptionConfiguration, GetBucketTagging)
# reads them for its S3 findings; the AWS Config recorder's AWSServiceRoleForConfig (Config developer guide, "Using
# Service-Linked Roles for AWS Config": trusted by config.amazonaws.com, read-only on the resources Config records)
# reads them to record the bucket's configuration, which Config rules and Security Hub's S3 controls judge. A
# service-linked role lives under the path `/aws-service-role/<service principal>/`, can be assumed only by its
# service and its permissions are the service's managed policy (IAM user guide, "Using service-linked roles"). Any
# account matches: another account's role still needs an Allow this policy never grants.
ACCESS_ANALYZER_SLR = "arn:*:iam::*:role/aws-service-role/access-analyzer.amazonaws.com/AWSServiceRoleForAccessAnalyzer"
GUARDDUTY_SLR = "arn:*:iam::*:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty"
CONFIG_SLR = "arn:*:iam::*:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
SECURITY_SERVICE_READERS = (ACCESS_ANALYZER_SLR, GUARDDUTY_SLR, CONFIG_SLR)
"""The service-linked roles every guarded data bucket lets read its settings (and nothing else)."""
# What the Config recorder may call on a bucket is its managed policy's S3 actions (AWSConfigServiceRolePolicy v90,
# and the same S3 actions in AWS_ConfigRole, which a Control Tower recorder uses): GetAccelerateConfiguration,
# GetBucket{Abac,Acl,CORS,Location,Logging,Notification,ObjectLockConfiguration,Policy,PolicyStatus,
# PublicAccessBlock,RequestPayment,Tagging,Versioning,Website}, GetEncryptionConfiguration,
# GetLifecycleConfiguration, GetReplicationConfiguration, ListBucket and ListTagsForResource (the rest of its S3
# actions name account-level resources: access points, Storage Lens, Access Grants). The exemption admits every
# one of those reads but two, denied on purpose: s3:ListBucket lists the bucket's objects (object names are data;
# HeadBucket needs it too) and s3:ListTagsForResource (tags through the S3 Control API; the exemption holds no List
# action on the bucket, so it can never cover a listing). Config still records every setting above, tags included
# (GetBucketTagging); what it would read with those two (an object listing, HeadBucket, Control API tags) is
# missing from a guarded bucket's configuration item. Intelligent-Tiering, inventory, metrics and analytics
# configurations are not admitted: no admitted reader's policy grants their reads (Config records a bucket without
# them anywhere), and an exemption wider than its readers' policies would only serve a role it was not meant for.
BUCKET_METADATA_READS = ("s3:GetBucket*", "s3:GetEncryptionConfiguration", "s3:GetAccessPoint*",
                         "s3:ListAccessPoints*", "s3:GetMultiRegionAccessPoint*", "s3:ListMultiRegionAccessPoints",
                         # Settings whose read action is not named GetBucket* (Service Authorization Reference,
                         # Amazon S3), which the Config recorder's policy grants.
                         "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration",
                         "s3:GetAccelerateConfiguration")
"""All a service-linked reader may do on a guarded bucket: read its settings; never an object, a listing or a write."""


@dataclass(frozen=True)
class VpcEndpointGuard:
    """Deny every S3 action (`s3:*`: objects, versions, listings, ACLs, tags) that does not come through these VPC
    endpoints, except for the principals and service paths named here.

    The role that runs `pulumi up` must be listed in `deployer_role_arns`: the provider reads and writes the bucket's
    settings (HeadBucket needs s3:ListBucket; GetBucketVersioning, PutBucketPolicy...), which are denied otherwise,
    from outside the VPC by this statement and from inside by an endpoint policy that admits only object access.
    """

    vpc_endpoint_ids: Sequence[pulumi.Input[str]]
    break_glass_role_arns: Sequence[str] = ()
    """People's roles exempt from the guard (e.g. incident response). Default: none."""
    deployer_role_arns: Sequence[str] = ()
    """Roles that run `pulumi up`/`refresh`/`destroy`, exempt from the guard: they may change the bucket policy, so
    the guard cannot bind them anyway. Default: none (then only break-glass roles can manage the bucket)."""
    service_role_arns: Sequence[pulumi.Input[str]] = ()
    """Roles an AWS service assumes to reach the bucket from its own network, e.g. the role SageMaker Feature Store
    assumes to write the offline store (the request's principal is that role; no aws:SourceVpce, no
    aws:ViaAWSService). Exempt by exact ARN. Default: none."""
    called_via: Sequence[str] = ()
    """Service principals allowed to use the caller's credentials from outside the endpoint (`aws:CalledVia`),
    e.g. `ATHENA` for an Athena offline store. Default: none."""
    service_linked_readers: Sequence[str] = ()
    """ARN patterns of the roles that read bucket settings from AWS's network: service-linked roles
    (`SECURITY_SERVICE_READERS`) and roles such as a Control Tower Config recorder's. Exempt from the endpoint guard
    for `BUCKET_METADATA_READS` only: a second Deny refuses them everything else. Default: none."""

    def with_exemptions(self, *, service_role_arns: Sequence[pulumi.Input[str]] = (),
                        called_via: Sequence[str] = ()) -> VpcEndpointGuard:
        """This guard plus more exemptions (a component adds the service paths its own bucket needs)."""
        return replace(self, service_role_arns=[*self.service_role_arns, *service_role_arns],
                       called_via=sorted({*self.called_via, *called_via}))

    def statement(self, bucket_arn: pulumi.Output[str]) -> iam.Statement:
        """`DenyOutsideVpcEndpoint`: a Deny whose conditions must all hold, so each exemption is one more key."""
        conditions: dict[str, dict[str, object]] = {
            "StringNotEquals": {"aws:SourceVpce": list(self.vpc_endpoint_ids)}}
        exempt = list(dict.fromkeys([*self.break_glass_role_arns, *self.deployer_role_arns, *self.service_role_arns,
                                     *self.service_linked_readers]))
        if exempt:
            conditions["ArnNotLike"] = {"aws:PrincipalArn": exempt}
        if self.called_via:
            # Absent for direct calls, and ForAllValues over an absent key is true: direct calls stay denied.
            conditions["ForAllValues:StringNotEquals"] = {"aws:CalledVia": list(self.called_via)}
        return iam.statement("DenyOutsideVpcEndpoint", ["s3:*"], [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                             effect="Deny", principals={"AWS": "*"}, conditions=conditions)


    def statements(self, bucket_arn: pulumi.Output[str]) -> list[iam.Statement]:
        """The guard, and (with service-linked readers) the Deny that keeps them to the bucket's settings."""
        out = [self.statement(bucket_arn)]
        if self.service_linked_readers:
            out.append({"Sid": "DenyServiceLinkedReadersBeyondSettings", "Effect": "Deny", "Principal": {"AWS": "*"},
                        "NotAction": list(BUCKET_METADATA_READS),
                        "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                        "Condition": {"ArnLike": {"aws:PrincipalArn": list(self.service_linked_readers)}}})
        return out


@dataclass(frozen=True)
class HardenedBucketArgs:
    kms_key: KeyLike
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the bucket. Default: true."""
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
    """An S3 bucket hardened once for every concern: encryption with its KMS key, versioning, public access blocked,
    TLS only, lifecycle rules, idempotent grants."""
    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: HardenedBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:blocks:HardenedBucket", name, None, opts)
        self._name = name
        self.kms_key = args.kms_key
        self.guarded = args.vpc_endpoint_guard is not None
        """Carries a VPC-endpoint guard: a data bucket (the audit trail records the object events of every bucket)."""
        self._grants = Grants(self, name, args.tags)
        bucket = aws.s3.Bucket(
            name,
            object_lock_enabled=True if args.object_lock_days else None,
            tags=args.tags,
            opts=child_options(self, stateful=True, protect=args.protect),
        )
        self.bucket_name, self.arn = bucket.bucket, bucket.arn
        ownership = aws.s3.BucketOwnershipControls(
            child(name, "ownership"), bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"}, opts=child_options(self))
        public_block = aws.s3.BucketPublicAccessBlock(
            child(name, "public-access-block"), bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child_options(self))
        versioning = aws.s3.BucketVersioning(
            child(name, "versioning"), bucket=bucket.id,
            versioning_configuration={"status": "Enabled"}, opts=child_options(self))
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            child(name, "encryption"), bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                 "kms_master_key_id": args.kms_key.arn},
                    "bucket_key_enabled": True}],
            opts=child_options(self))
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
        settings: list[pulumi.Resource] = [public_block, ownership, versioning, encryption]
        settings.append(aws.s3.BucketLifecycleConfiguration(
            child(name, "lifecycle"), bucket=bucket.id, rules=rules, opts=child_options(self)))
        if args.object_lock_days:
            settings.append(aws.s3.BucketObjectLockConfiguration(
                child(name, "object-lock"), bucket=bucket.id,
                rule={"default_retention": {"mode": "GOVERNANCE", "days": args.object_lock_days}}, opts=child_options(self)))
        statements: list[iam.Statement | pulumi.Output[iam.Statement]] = [iam.statement(
            "DenyInsecureTransport", ["s3:*"], [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
            effect="Deny", principals={"AWS": "*"}, conditions={"Bool": {"aws:SecureTransport": "false"}})]
        if args.vpc_endpoint_guard is not None:
            statements += args.vpc_endpoint_guard.statements(bucket.arn)
        statements.extend(args.extra_policy_statements)
        # Last: a guard's Deny in place before the settings are written could refuse the deployer's own writes.
        aws.s3.BucketPolicy(child(name, "policy"), bucket=bucket.id, policy=iam.document(statements),
                            opts=child_options(self, depends_on=settings))
        self.register_outputs({"bucketName": self.bucket_name, "arn": self.arn})

    @property
    def refs(self) -> BucketRefs:
        """This bucket as a reference other components read or write through (grants include the key)."""
        return BucketRefs(bucket_name=self.bucket_name, bucket_arn=self.arn, kms_key_arn=self.kms_key.arn)

    def objects_arn(self, prefix: str = "") -> pulumi.Output[str]:
        """ARN of the objects under `prefix` (`""` = the whole bucket)."""
        return pulumi.Output.concat(self.arn, "/", f"{prefix.strip('/')}/*" if prefix else "*")

    def read_statements(self, prefix: str = "", *, missing_key_404: bool = False) -> list[iam.Statement]:
        """Least-privilege read of `prefix` and decrypt with the bucket's key (the same as `refs`')."""
        return self.refs.read_statements(prefix, missing_key_404=missing_key_404)

    def write_statements(self, prefix: str = "", *, missing_key_404: bool = False) -> list[iam.Statement]:
        return self.refs.write_statements(prefix, missing_key_404=missing_key_404)

    def grant_read(self, role: aws.iam.Role, prefix: str = "") -> Grant:
        """Least-privilege read of `prefix` (and decrypt with the bucket's key) for `role`: the managed policy
        `<bucket>-read[-<prefix>]-policy` attached to it. Idempotent per role."""
        return self.refs.grant_read(self._grants, role, prefix)

    def grant_write(self, role: aws.iam.Role, prefix: str = "") -> Grant:
        """Read and write of `prefix` (and encrypt/decrypt with the bucket's key) for `role`. Idempotent per role."""
        return self.refs.grant_write(self._grants, role, prefix)
