"""Issue 27 item 1: a deployer inside the VPC (the README's advice for a private prod cluster) is not locked out by
the S3 gateway endpoint policy.

`pulumi up` from a runner in the VPC reaches S3 only through the gateway endpoint, so the endpoint policy must admit
the deployer roles (prod: `cluster.adminRoleArns`) to the Pulumi state bucket (`securityBaseline.deployerStateBucket`),
to every bucket setting of the platform's buckets and of the audit-trail bucket, and to `s3:CreateBucket` for the
buckets the platform adds later (autonamed `<platform>-<child>-<random>`); anything else stays refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import planned
from tests.iam_eval import resource_allows

ACCOUNT = "123456789012"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"  # stacks/Pulumi.prod.yaml: cluster.adminRoleArns
STATE = "acme-pulumi-state"  # stacks/Pulumi.prod.yaml: securityBaseline.deployerStateBucket


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod")


def endpoint_policy(inv: Inventory) -> list[dict[str, Any]]:
    (policy,) = inv.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy")
    return [json.loads(policy.inputs["policy"])]


def _who(arn: str, bucket_account: str = ACCOUNT) -> dict[str, str]:
    """The request context through the endpoint: who asks, and the account that owns the bucket it names."""
    return {"aws:PrincipalArn": arn, "aws:PrincipalAccount": ACCOUNT, "aws:SourceVpce": "vpce-any",
            "aws:ResourceAccount": bucket_account}


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
                                    "s3:GetBucketLocation"])
def test_a_deployer_inside_the_vpc_reaches_the_state_bucket(prod: Inventory, action: str) -> None:
    docs = endpoint_policy(prod)
    resource = f"arn:aws:s3:::{STATE}" if action in ("s3:ListBucket", "s3:GetBucketLocation") \
        else f"arn:aws:s3:::{STATE}/.pulumi/stacks/mlops-platform/prod.json"
    assert resource_allows(docs, action, resource, _who(DEPLOYER))
    # A workload of the account is not a deployer: the state (with its secrets' ciphertexts) stays out of reach.
    assert not resource_allows(docs, action, resource, _who(f"arn:aws:iam::{ACCOUNT}:role/research-workload"))


def test_a_deployer_creates_and_administers_every_platform_bucket(prod: Inventory) -> None:
    buckets = [f"arn:aws:s3:::{b.id}" for b in prod.of_type("aws:s3/bucket:Bucket")]
    assert any("audit" in b for b in buckets), buckets  # the trail bucket is among them
    docs = endpoint_policy(prod)
    for arn in [*buckets, "arn:aws:s3:::mlops-prod-new-addon-bucket-1a2b3c4"]:  # one the next `up` adds
        for action in ("s3:CreateBucket", "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:PutBucketVersioning",
                       "s3:GetBucketObjectLockConfiguration", "s3:PutBucketTagging"):
            assert resource_allows(docs, action, arn, _who(DEPLOYER)), (arn, action)
        assert not resource_allows(docs, "s3:CreateBucket", arn, _who(f"arn:aws:iam::{ACCOUNT}:role/other")), arn
        # The same name in another account is not the platform's bucket: no deployer right reaches it.
        assert not resource_allows(docs, "s3:PutBucketPolicy", arn, _who(DEPLOYER, "999999999999")), arn


@pytest.mark.parametrize("action", ["s3:CreateBucket", "s3:PutObject", "s3:GetObject", "s3:PutBucketPolicy"])
def test_any_other_bucket_is_still_refused(prod: Inventory, action: str) -> None:
    docs = endpoint_policy(prod)
    for bucket in ("exfil-target", "mlops-staging-shared-e300c05", "acme-pulumi-state-copy"):
        arn = f"arn:aws:s3:::{bucket}" + ("/x" if action in ("s3:PutObject", "s3:GetObject") else "")
        assert not resource_allows(docs, action, arn, _who(DEPLOYER)), (bucket, action)


def test_state_bucket_needs_the_guards() -> None:
    raw = {"environment": "staging", "tags": {"owner": "o", "costCenter": "c"},
           "securityBaseline": {"deployerStateBucket": "acme-pulumi-state"}}
    with pytest.raises(ConfigError, match=r"securityBaseline.deployerStateBucket: set, but exfiltrationGuards is false"):
        load_platform_config(raw)
    with pytest.raises(ConfigError, match=r"securityBaseline.deployerStateBucket"):
        load_platform_config({**raw, "environment": "prod",
                              "securityBaseline": {"deployerStateBucket": "Not_A_Bucket"}})
