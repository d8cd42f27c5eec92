"""S3 policies: companion resources joined to their bucket through property dependencies."""

from __future__ import annotations

import copy
import json

from mlops_policies import aws_s3 as s3

from .cases import Case, check, params
from .helpers import R

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/abc"
TLS_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:*"],
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def bucket_set(**override: dict) -> list[R]:
    """A hardened bucket: every companion present and correct; `override` replaces a companion's inputs."""
    dep = {"bucket": ["data"]}
    parts = {
        "sse": R(s3.SSE, "data-sse", {"bucket": "data-id", "rules": [{"applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}, "bucketKeyEnabled": True}]}, dep),
        "pab": R(s3.PAB, "data-pab", {"bucket": "data-id", "blockPublicAcls": True, "blockPublicPolicy": True,
                                      "ignorePublicAcls": True, "restrictPublicBuckets": True}, dep),
        "versioning": R(s3.VERSIONING, "data-versioning", {"bucket": "data-id",
                                                           "versioningConfiguration": {"status": "Enabled"}}, dep),
        "ownership": R(s3.OWNERSHIP, "data-ownership", {"bucket": "data-id",
                                                        "rule": {"objectOwnership": "BucketOwnerEnforced"}}, dep),
        "policy": R(s3.POLICY, "data-policy", {"bucket": "data-id", "policy": TLS_POLICY}, dep),
        "lifecycle": R(s3.LIFECYCLE, "data-lifecycle", {"bucket": "data-id", "rules": [
            {"id": "abort", "status": "Enabled", "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}]}, dep),
    }
    out = [R(s3.BUCKET, "data", {"tags": {"owner": "x"}})]
    for key, part in parts.items():
        if key in override:
            if override[key] is None:
                continue
            part = copy.deepcopy(part)
            part.inputs.update(override[key])
        out.append(part)
    return out


CASES = [
    Case("hardened", "mlops-s3-bucket-encryption-kms", bucket_set(), []),
    Case("missing", "mlops-s3-bucket-encryption-kms", bucket_set(sse=None),
         ["data: bucket has no server-side encryption configuration"]),
    Case("aes256", "mlops-s3-bucket-encryption-kms", bucket_set(sse={"rules": [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
         ["data: SSE algorithm is AES256; use aws:kms with a customer-managed key"]),
    Case("aws-managed-key", "mlops-s3-bucket-encryption-kms", bucket_set(sse={"rules": [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}),
         ["data: SSE-KMS uses the AWS-managed aws/s3 key; set kmsMasterKeyId to a customer-managed key"]),
    Case("key-unknown-in-preview", "mlops-s3-bucket-encryption-kms", bucket_set(sse={"rules": [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "[unknown]"}}]}), []),
    Case("rules-unknown", "mlops-s3-bucket-encryption-kms", bucket_set(sse={"rules": "[unknown]"}), []),
    Case("name-does-not-matter", "mlops-s3-bucket-encryption-kms",
         [R(s3.BUCKET, "data", {}), R(s3.SSE, "data-sse", {"bucket": "data-id", "rules": [
             {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}}]})],
         ["data: bucket has no server-side encryption configuration"]),
    Case("on", "mlops-s3-bucket-key-enabled", bucket_set(), []),
    Case("off", "mlops-s3-bucket-key-enabled", bucket_set(sse={"rules": [{"applyServerSideEncryptionByDefault": {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}}]}),
         ["data: SSE-KMS rule does not enable the bucket key (bucketKeyEnabled)"]),
    Case("all-four", "mlops-s3-public-access-block", bucket_set(), []),
    Case("missing", "mlops-s3-public-access-block", bucket_set(pab=None), ["data: bucket has no public access block"]),
    Case("two-off", "mlops-s3-public-access-block", bucket_set(pab={"blockPublicPolicy": False,
                                                                    "restrictPublicBuckets": False}),
         ["data: public access block leaves blockPublicPolicy, restrictPublicBuckets off"]),
    Case("enabled", "mlops-s3-versioning", bucket_set(), []),
    Case("missing", "mlops-s3-versioning", bucket_set(versioning=None), ["data: bucket has no versioning configuration"]),
    Case("suspended", "mlops-s3-versioning", bucket_set(versioning={"versioningConfiguration": {"status": "Suspended"}}),
         ["data: versioning status is Suspended, not Enabled"]),
    Case("enforced", "mlops-s3-ownership-enforced", bucket_set(), []),
    Case("missing", "mlops-s3-ownership-enforced", bucket_set(ownership=None),
         ["data: bucket has no ownership controls (ACLs stay enabled)"]),
    Case("preferred", "mlops-s3-ownership-enforced", bucket_set(ownership={"rule": {"objectOwnership": "BucketOwnerPreferred"}}),
         ["data: object ownership is BucketOwnerPreferred, not BucketOwnerEnforced"]),
    Case("deny-insecure", "mlops-s3-tls-only-policy", bucket_set(), []),
    Case("no-policy", "mlops-s3-tls-only-policy", bucket_set(policy=None),
         ["data: bucket policy does not deny requests without TLS (aws:SecureTransport false)"]),
    Case("policy-unknown", "mlops-s3-tls-only-policy", bucket_set(policy={"policy": "[unknown]"}), []),
    Case("scoped", "mlops-s3-policy-no-wildcard-principal", bucket_set(), []),
    Case("public-read", "mlops-s3-policy-no-wildcard-principal", [R(s3.POLICY, "p", {"bucket": "b", "policy": json.dumps(
        {"Statement": [{"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::b/*"}]})})],
         ["p: statement Public allows principal * without a condition"]),
    Case("private", "mlops-s3-no-public-acl", [R(s3.ACL, "acl", {"bucket": "b", "acl": "private"})], []),
    Case("public-read", "mlops-s3-no-public-acl", [R(s3.BUCKET, "b", {"acl": "public-read"})],
         ["b: canned ACL public-read makes the bucket public"]),
    Case("all-users-grant", "mlops-s3-no-public-acl", [R(s3.ACL, "acl", {"bucket": "b", "accessControlPolicy": {
        "grants": [{"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"},
                    "permission": "READ"}]}})], ["acl: ACL grants access to AllUsers"]),
    Case("rule", "mlops-s3-lifecycle", bucket_set(), []),
    Case("missing", "mlops-s3-lifecycle", bucket_set(lifecycle=None), ["data: bucket has no lifecycle configuration"]),
    Case("all-disabled", "mlops-s3-lifecycle", bucket_set(lifecycle={"rules": [{"id": "x", "status": "Disabled"}]}),
         ["data: lifecycle configuration has no enabled rule"]),
]


@params(CASES)
def test_s3(case: Case) -> None:
    check(case)
