"""A guarded platform admits what consumer stacks run on its VPC only when it names them (issue 29 reviews): its S3
gateway endpoint admits their buckets by name prefix (`securityBaseline.consumerBucketPrefixes`; a component used
alone, LakeFs or an orchestrator, creates its own bucket, which the endpoint otherwise denies), and the teams' egress
guard admits their service ports (`consumerServicePorts`). The endpoint policy is judged with the IAM evaluator, as
the endpoint judges a request."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.security.config import prefixes_overlap
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS, PROGRAMS, planned
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


def test_the_prefixes_are_exported_only_where_the_endpoint_policy_is_written() -> None:
    """`consumerBucketPrefixes` says what the endpoint policy admits: on a VPC made elsewhere the platform writes no
    policy (its owner merges the document), so it exports none, and a component alone checks nothing it cannot know."""
    own = planned("prod")
    assert own.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy")
    assert own.outputs["consumerBucketPrefixes"] == []
    shared = planned("prod", PROGRAMS / "existing_vpc")
    assert shared.of_type("aws:s3/bucket:Bucket")  # guarded buckets, and...
    assert shared.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy") == []  # ...no endpoint policy written
    assert "consumerBucketPrefixes" not in shared.outputs


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


# --- a consumer prefix never reaches the platform's own names (review FSEC #7) ----------------------------------------

PROD = {"environment": "prod", "tags": {"owner": "o", "costCenter": "c"},
        "cluster": {"teams": [{"name": "research"}], **PROD_API_ACCESS},
        "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}}}


@pytest.mark.parametrize(("prefix", "own"), [
    ("mlops", "mlops-dev"),  # every environment's buckets, staging's in prod's account included
    ("mlops-prod", "mlops-prod"),  # this stack's own
    ("mlops-prod-lakefs", "mlops-prod"),  # one of this stack's own components
    ("mlops-staging", "mlops-staging"),  # a sibling environment's (staging shares prod's account)
])
def test_a_consumer_prefix_that_matches_the_platforms_own_buckets_is_refused(prefix: str, own: str) -> None:
    raw = {**PROD, "securityBaseline": {**PROD_GUARDS, "consumerBucketPrefixes": ["search-prod", prefix]}}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    assert info.value.problems == [
        f"securityBaseline.consumerBucketPrefixes[1]: {prefix!r} matches bucket names of the platform itself "
        f"({own}-*): `{prefix}-*` would admit them as a consumer's; name the consumer stack's own prefix "
        "(e.g. `search-prod`)"]


@pytest.mark.parametrize("prefix", ["search-prod", "mlops-search", "mlopsx", "mlops-pr"])
def test_a_consumer_prefix_beside_the_platforms_names_is_accepted(prefix: str) -> None:
    raw = {**PROD, "securityBaseline": {**PROD_GUARDS, "consumerBucketPrefixes": [prefix]}}
    assert load_platform_config(raw).security_baseline.consumer_bucket_prefixes == [prefix]


@pytest.mark.parametrize(("a", "b"), [("mlops", "mlops-prod"), ("mlops-prod", "mlops-prod"), ("mlops-prod-x", "mlops-prod"),
                                      ("mlops-pr", "mlops-prod"), ("mlopsx", "mlops"), ("search-prod", "mlops-prod")])
def test_prefixes_overlap_exactly_when_one_bucket_name_matches_both_patterns(a: str, b: str) -> None:
    """The endpoint's `<prefix>-*` patterns, as S3 ARNs match them: overlap iff some name matches both."""
    names = [f"{p}-{suffix}" for p in (a, b) for suffix in ("blockstore-3f9a1c2", "x")]
    both = any(fnmatch.fnmatchcase(n, f"{a}-*") and fnmatch.fnmatchcase(n, f"{b}-*") for n in names)
    assert prefixes_overlap(a, b) is both
    assert prefixes_overlap(b, a) is both


def test_the_component_refuses_a_consumer_prefix_over_its_own_buckets(tmp_path: Path) -> None:
    """ExfiltrationGuards used alone: the consumer prefix is judged against the deployer prefixes it is given."""
    (tmp_path / "Pulumi.yaml").write_text("name: guards\nruntime: python\n")
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "__main__.py").write_text(
        "from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider\n"
        "from mlops_infra.security.config import SecurityBaselineConfig\n"
        "from mlops_infra.security.exfiltration_guards import ExfiltrationGuards, ExfiltrationGuardsArgs\n"
        "net = NetworkRefs(vpc_id='vpc-1', vpc_cidr='10.0.0.0/16', private_subnet_ids=['s-1'],"
        " s3_gateway_endpoint_id='vpce-1')\n"
        "cluster = ClusterRefs.existing('c', provider=cluster_provider('k8s', 'kubeconfig'),"
        " security_group_id='sg-1', version='1.33')\n"
        "ExfiltrationGuards('g', ExfiltrationGuardsArgs(config=SecurityBaselineConfig(exfiltration_guards=True),"
        " network=net, cluster=cluster, region='eu-west-1', deployer_role_arns=['arn:aws:iam::123456789012:role/d'],"
        " deployer_bucket_prefixes=['mlops-prod'], consumer_bucket_prefixes=['search-prod', 'mlops']))\n")
    with pytest.raises(PlanError, match=r"consumer bucket prefix 'mlops' matches the platform's own bucket names "
                                        r"\(mlops-prod-\*\)"):
        plan_program(tmp_path, "prod")
