"""S3: a bucket's encryption, public access block, versioning, ownership, policy and lifecycle are separate
resources in pulumi-aws v7, so most checks are stack checks that follow property dependencies to the bucket."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import (
    Resource,
    Stack,
    dig,
    each,
    is_unknown,
    json_doc,
    known,
    resource_policy,
    stack_policy,
    statements,
)

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ACL = "aws:s3/bucketAcl:BucketAcl"

PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")


def _sse_rules(stack: Stack, bucket: Resource) -> list[Any] | None:
    """SSE rules from the companion resources (or the deprecated inline block); None when there is none."""
    rules: list[Any] = []
    companions = stack.referencing(bucket, [SSE], "bucket")
    for sse in companions:
        rules.extend(known(sse.get("rules"), "encryption rules") or [])
    inline = bucket.get("serverSideEncryptionConfiguration", "rule")
    if inline is not None:
        rules.append(known(inline, "inline encryption rule"))
    return rules if (companions or inline is not None) else None


@stack_policy(
    "mlops-s3-bucket-encryption-kms",
    description="S3 buckets encrypt with SSE-KMS and a customer-managed key.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_19", "CKV_AWS_145", "AVD-AWS-0088", "AVD-AWS-0132", "FSBP S3.17", "SOC2 CC6.1",
              "ISO27001 A.8.24", "PCI-DSS 3.5.1"),
    remediation="Add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket with sse_algorithm "
                "'aws:kms' and kms_master_key_id set to a customer-managed KMS key ARN.",
)
def bucket_encryption(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(bucket: Resource) -> Iterable[str]:
        rules = _sse_rules(stack, bucket)
        if rules is None:
            yield "bucket has no server-side encryption configuration"
            return
        for rule in rules:
            algo = known(dig(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"), "SSE algorithm")
            key = dig(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
            if algo not in ("aws:kms", "aws:kms:dsse"):
                yield f"SSE algorithm is {algo}; use aws:kms with a customer-managed key"
            elif (not is_unknown(key) and not key) or (isinstance(key, str) and key.endswith("alias/aws/s3")):
                yield "SSE-KMS uses the AWS-managed aws/s3 key; set kmsMasterKeyId to a customer-managed key"

    return each(stack.of_type(BUCKET), check)


@stack_policy(
    "mlops-s3-bucket-key-enabled",
    description="S3 buckets with SSE-KMS enable the S3 Bucket Key.",
    severity="low", pack="mlops-cost",
    controls=("CKV_AWS_145", "SOC2 CC6.1"),
    remediation="Set bucket_key_enabled=True on the bucket's server-side encryption rule (cuts KMS request costs).",
)
def bucket_key(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(bucket: Resource) -> Iterable[str]:
        for rule in _sse_rules(stack, bucket) or []:
            algo = known(dig(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"), "SSE algorithm")
            enabled = known(dig(rule, "bucketKeyEnabled"), "bucketKeyEnabled")
            if algo in ("aws:kms", "aws:kms:dsse") and enabled is not True:
                yield "SSE-KMS rule does not enable the bucket key (bucketKeyEnabled)"

    return each(stack.of_type(BUCKET), check)


@stack_policy(
    "mlops-s3-public-access-block",
    description="S3 buckets have a public access block with all four settings on.",
    severity="critical", pack="mlops-security",
    controls=("CKV2_AWS_6", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "FSBP S3.8", "SOC2 CC6.6",
              "ISO27001 A.8.3", "PCI-DSS 1.4.1"),
    remediation="Add an aws.s3.BucketPublicAccessBlock for the bucket with block_public_acls, block_public_policy, "
                "ignore_public_acls and restrict_public_buckets all True.",
)
def public_access_block(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

    def check(bucket: Resource) -> Iterable[str]:
        blocks = stack.referencing(bucket, [PAB], "bucket")
        if not blocks:
            yield "bucket has no public access block"
            return
        for block in blocks:
            off = [f for f in flags if known(block.get(f), f) is not True]
            if off:
                yield f"public access block leaves {', '.join(off)} off"

    return each(stack.of_type(BUCKET), check)


@stack_policy(
    "mlops-s3-versioning",
    description="S3 buckets have versioning enabled.",
    severity="medium", pack="mlops-compliance",
    controls=("CKV_AWS_21", "AVD-AWS-0090", "SOC2 A1.2", "ISO27001 A.8.13"),
    remediation="Add an aws.s3.BucketVersioning for the bucket with versioning_configuration status 'Enabled'.",
)
def versioning(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(bucket: Resource) -> Iterable[str]:
        companions = stack.referencing(bucket, [VERSIONING], "bucket")
        inline = bucket.get("versioning", "enabled")
        if not companions and inline is None:
            yield "bucket has no versioning configuration"
            return
        for v in companions:
            status = known(v.get("versioningConfiguration", "status"), "versioning status")
            if status != "Enabled":
                yield f"versioning status is {status}, not Enabled"
        if inline is not None and known(inline, "inline versioning") is not True and not companions:
            yield "versioning status is Disabled, not Enabled"

    return each(stack.of_type(BUCKET), check)


@stack_policy(
    "mlops-s3-ownership-enforced",
    description="S3 buckets enforce bucket-owner object ownership (ACLs disabled).",
    severity="medium", pack="mlops-security",
    controls=("CKV2_AWS_65", "FSBP S3.12", "SOC2 CC6.1"),
    remediation="Add an aws.s3.BucketOwnershipControls for the bucket with rule object_ownership 'BucketOwnerEnforced'.",
)
def ownership(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(bucket: Resource) -> Iterable[str]:
        controls = stack.referencing(bucket, [OWNERSHIP], "bucket")
        if not controls:
            yield "bucket has no ownership controls (ACLs stay enabled)"
        for c in controls:
            value = known(c.get("rule", "objectOwnership"), "objectOwnership")
            if value != "BucketOwnerEnforced":
                yield f"object ownership is {value}, not BucketOwnerEnforced"

    return each(stack.of_type(BUCKET), check)


def _denies_insecure_transport(stmt: Mapping[str, Any]) -> bool:
    if stmt.get("Effect") != "Deny":
        return False
    cond = stmt.get("Condition") or {}
    value = dig(cond, "Bool", "aws:SecureTransport")
    if value is not None and str(value).lower() == "false":
        return True
    tls = dig(cond, "NumericLessThan", "s3:TlsVersion")
    return tls is not None


@stack_policy(
    "mlops-s3-tls-only-policy",
    description="S3 bucket policies deny requests that do not use TLS.",
    severity="high", pack="mlops-security",
    controls=("FSBP S3.5", "SOC2 CC6.7", "ISO27001 A.8.24", "PCI-DSS 4.2.1"),
    remediation="Add a bucket policy statement that denies s3:* for principal * when aws:SecureTransport is false.",
)
def tls_only(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(bucket: Resource) -> Iterable[str]:
        docs = [json_doc(p.get("policy"), "bucket policy") for p in stack.referencing(bucket, [POLICY], "bucket")]
        inline = json_doc(bucket.get("policy"), "inline bucket policy")
        docs.append(inline)
        if not any(_denies_insecure_transport(s) for d in docs for s in statements(d)):
            yield "bucket policy does not deny requests without TLS (aws:SecureTransport false)"

    return each(stack.of_type(BUCKET), check)


def _wildcard_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(v == "*" or (isinstance(v, list) and "*" in v) for v in principal.values())
    return False


@resource_policy(
    "mlops-s3-policy-no-wildcard-principal",
    types=[POLICY, BUCKET],
    description="S3 bucket policies do not allow a wildcard principal.",
    severity="critical", pack="mlops-security",
    controls=("CKV_AWS_70", "FSBP S3.2", "SOC2 CC6.1", "PCI-DSS 7.2.1"),
    remediation="Name the principals that need access (role ARNs) instead of '*', or add a condition that scopes it "
                "(e.g. aws:PrincipalOrgID or aws:SourceVpce).",
)
def no_wildcard_principal(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    doc = json_doc(res.get("policy"), "bucket policy")
    for i, stmt in enumerate(statements(doc)):
        if stmt.get("Effect") == "Allow" and _wildcard_principal(stmt.get("Principal")) and not stmt.get("Condition"):
            yield f"statement {stmt.get('Sid') or i} allows principal * without a condition"


@resource_policy(
    "mlops-s3-no-public-acl",
    types=[BUCKET, ACL],
    description="S3 buckets grant no public ACL.",
    severity="critical", pack="mlops-security",
    controls=("CKV_AWS_20", "CKV_AWS_57", "FSBP S3.2", "FSBP S3.3", "SOC2 CC6.6", "PCI-DSS 1.4.1"),
    remediation="Remove the public canned ACL or AllUsers/AuthenticatedUsers grants; enforce bucket-owner ownership.",
)
def no_public_acl(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    acl = known(res.get("acl"), "acl")
    if acl in PUBLIC_ACLS:
        yield f"canned ACL {acl} makes the bucket public"
    grants = res.get("accessControlPolicy", "grants") if res.type == ACL else res.get("grants")
    for grant in known(grants, "grants") or []:
        uri = dig(grant, "grantee", "uri") or dig(grant, "uri")
        if uri in PUBLIC_GRANTEES:
            yield f"ACL grants access to {uri.rsplit('/', 1)[-1]}"


@stack_policy(
    "mlops-s3-lifecycle",
    description="S3 buckets have a lifecycle configuration with at least one enabled rule.",
    severity="low", pack="mlops-cost",
    controls=("CKV2_AWS_61", "ISO27001 A.8.10"),
    remediation="Add an aws.s3.BucketLifecycleConfiguration (abort incomplete uploads, expire noncurrent versions).",
)
def lifecycle(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(bucket: Resource) -> Iterable[str]:
        configs = stack.referencing(bucket, [LIFECYCLE], "bucket")
        if not configs:
            yield "bucket has no lifecycle configuration"
            return
        rules = [r for c in configs for r in known(c.get("rules"), "lifecycle rules") or []]
        if not any(dig(r, "status") == "Enabled" for r in rules):
            yield "lifecycle configuration has no enabled rule"

    return each(stack.of_type(BUCKET), check)
