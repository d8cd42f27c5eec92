"""parliament (PyPI, its own IAM database) on every IAM policy document of every plan.

Identity, trust, bucket, key, topic and endpoint policies, for dev, staging, prod, the team workspace and one
plan per engine variant (tests/integration/plans.py). Zero unknown actions, unknown prefixes, resource mismatches,
unknown condition keys (and every other parliament finding but Resource "*"), except those accepted with a
reason in parliament_accepted.yaml.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from .parliament_lint import Finding, accepted, kind, lint
from .plans import LABELS, plan
from .rendered import PolicyDocument, policy_documents

pytestmark = pytest.mark.integration


@cache
def findings(label: str) -> tuple[Finding, ...]:
    return tuple(f for doc in policy_documents(plan(label)) for f in lint(label, doc))


@pytest.mark.parametrize("label", LABELS)
def test_every_policy_document_passes_parliament(label: str) -> None:
    assert policy_documents(plan(label)), f"{label}: no IAM policy document found"
    rules = accepted()
    unexplained = [str(f) for f in findings(label) if not any(a.matches(f) for a in rules)]
    assert not unexplained, "parliament findings (fix, or accept with a reason in parliament_accepted.yaml):\n" \
        + "\n".join(unexplained)


def test_every_accepted_finding_still_occurs() -> None:
    seen = [f for label in LABELS for f in findings(label)]
    stale = [a for a in accepted() if not any(a.matches(f) for f in seen)]
    assert not stale, f"accepted findings that no plan produces any more (delete them): {stale}"


def test_every_kind_of_policy_document_is_linted() -> None:
    docs = [d for label in LABELS for d in policy_documents(plan(label))]
    where = {(d.resource_type, d.path) for d in docs}
    expected = {  # what kind of document -> the (type, input) pairs that carry it
        "trust": {("aws:iam/role:Role", ".assumeRolePolicy")},
        "managed policy": {("aws:iam/policy:Policy", ".policy")},
        "inline policy": {("aws:iam/rolePolicy:RolePolicy", ".policy")},
        "bucket policy": {("aws:s3/bucketPolicy:BucketPolicy", ".policy")},
        "key policy": {("aws:kms/key:Key", ".policy")},
        "topic policy": {("aws:sns/topicPolicy:TopicPolicy", ".policy")},
        "endpoint policy": {("aws:ec2/vpcEndpoint:VpcEndpoint", ".policy"),
                            ("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy", ".policy")},
        "model package group policy": {("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy", ".resourcePolicy")},
    }
    missing = [name for name, carriers in expected.items() if not carriers & where]
    assert not missing, f"no document of these kinds was linted: {missing}"
    assert {kind(d) for d in docs} == {"trust", "identity", "resource"}


def _doc(actions: list[str]) -> PolicyDocument:
    return PolicyDocument("aws:iam/rolePolicy:RolePolicy", "probe", ".policy", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions,
         "Resource": "arn:aws:sagemaker:us-east-1:123456789012:feature-group/drivers"}]})


def test_parliament_catches_an_action_prefix_iam_does_not_have() -> None:
    """The defect of issue 14 #15: `sagemaker-featurestore-runtime:` is the SDK's endpoint name, not an IAM
    prefix. The linter must see it (and accept the real `sagemaker:` actions on a feature group)."""
    bad = lint("probe", _doc(["sagemaker-featurestore-runtime:GetRecord"]))
    assert [f.issue for f in bad] == ["UNKNOWN_PREFIX"], json.dumps([str(f) for f in bad])
    assert lint("probe", _doc(["sagemaker:GetRecord", "sagemaker:PutRecord", "sagemaker:BatchGetRecord",
                               "sagemaker:DeleteRecord"])) == []
