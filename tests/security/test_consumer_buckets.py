"""A guarded platform admits what consumer stacks run on its VPC only when it names them (issue 29 reviews): its S3
gateway endpoint admits their buckets by name prefix (`securityBaseline.consumerBucketPrefixes`; a component used
alone, LakeFs or an orchestrator, creates its own bucket, which the endpoint otherwise denies), and the teams' egress
guard admits their service ports (`consumerServicePorts`). The endpoint policy is judged with the IAM evaluator, as
the endpoint judges a request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import PROGRAMS, planned
from tests.iam_eval import resource_allows
from tests.nonempty import each

ACCOUNT = "123456789012"  # the mock engine's account
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/platform-deployer"  # the program's stack file
CONSUMER_BUCKET = "search-prod-lakefs-blockstore-3f9a1c2"  # Pulumi's autoname of `search-prod-lakefs-blockstore`


def _policy(inv: Inventory) -> list[dict[str, Any]]:
    (policy,) = inv.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy")
    return [json.loads(policy.inputs["policy"])]


def _who(principal: str, bucket_account: str = ACCOUNT) -> dict[str, str]:
    return {"aws:PrincipalArn": principal, "aws:PrincipalAccount": principal.split(":")[4],
            "aws:SourceVpce": "vpce-any", "aws:ResourceAccount": bucket_account}


@pytest.fixture(scope="module")
def guarded() -> list[dict[str, Any]]:
    return _policy(planned("prod", PROGRAMS / "security_baseline"))


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
def test_a_consumer_pod_reaches_its_own_bucket_through_the_endpoint(guarded: list[dict[str, Any]], action: str) -> None:
    workload = f"arn:aws:iam::{ACCOUNT}:role/search-prod-lakefs-server-role"
    assert resource_allows(guarded, action, f"arn:aws:s3:::{CONSUMER_BUCKET}/repos/x", _who(workload))
    # The same name in another account is not this account's bucket; another prefix is not a consumer's.
    assert not resource_allows(guarded, action, f"arn:aws:s3:::{CONSUMER_BUCKET}/x", _who(workload, "999999999999"))
    assert not resource_allows(guarded, action, "arn:aws:s3:::exfil-target-1/x", _who(workload))
    assert not resource_allows(guarded, action, f"arn:aws:s3:::{CONSUMER_BUCKET}/x",
                               _who("arn:aws:iam::999999999999:role/outsider"))


def test_a_deployer_in_the_vpc_creates_the_consumer_bucket(guarded: list[dict[str, Any]]) -> None:
    arn = f"arn:aws:s3:::{CONSUMER_BUCKET}"
    for action in ("s3:CreateBucket", "s3:PutBucketPolicy", "s3:PutBucketVersioning"):
        assert resource_allows(guarded, action, arn, _who(DEPLOYER)), action


def test_without_the_prefix_the_endpoint_denies_the_consumer_bucket() -> None:
    """prod names no consumer prefix: a consumer's bucket is refused, as the reviewers found."""
    docs = _policy(planned("prod"))
    workload = f"arn:aws:iam::{ACCOUNT}:role/search-prod-lakefs-server-role"
    assert not resource_allows(docs, "s3:GetObject", f"arn:aws:s3:::{CONSUMER_BUCKET}/x", _who(workload))


def test_the_prefix_needs_the_guards() -> None:
    raw = {"environment": "staging", "tags": {"owner": "o", "costCenter": "c"},
           "securityBaseline": {"consumerBucketPrefixes": ["search-staging"]}}
    with pytest.raises(ConfigError, match=r"securityBaseline.consumerBucketPrefixes: set, but exfiltrationGuards is false"):
        load_platform_config(raw)


def test_a_team_reaches_a_consumer_stacks_service_through_its_egress_guard() -> None:
    """`consumerServicePorts`: each team's default-deny egress admits the port in the consumer's namespace (and only
    there), as it admits the ports of the components the platform composed."""
    inv = planned("prod", PROGRAMS / "security_baseline")
    allows = [r for r in inv.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
              if r.inputs["metadata"]["name"] == "allow-platform-egress"]
    for policy in each(allows):
        rules = [r for r in policy.inputs["spec"]["egress"] if {"protocol": "TCP", "port": 8000} in r.get("ports", [])]
        peers = [p for r in rules for p in r.get("to", [])]
        assert peers and all(p["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "search-lakefs"}
                             for p in peers), (policy.name, rules)
