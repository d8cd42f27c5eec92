"""Policy documents as IAM validates them (issue 26): engine errors, one line per refused element."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.plan import UNKNOWN, PlanError, ResourceRecord, plan_program
from mlops_infra.plan.policy_docs import IDENTITY, RESOURCE, TRUST, document_problems, policy_problems
from tests.conftest import PROGRAMS, planned


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ = {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}
ASSUME = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}


def test_a_valid_identity_and_trust_document_pass() -> None:
    assert document_problems(_doc(READ, {**READ, "Sid": "Read2", "Action": "s3:List*"}), IDENTITY, 6144, True) == []
    assert document_problems(_doc(ASSUME), TRUST, 2048, True) == []


def test_duplicate_sids_are_refused_once_per_sid() -> None:
    assert document_problems(_doc(READ, READ, READ), IDENTITY, None, True) == [
        "Sid 'Read' appears 3 times (Sids must be unique within a policy)"]


def test_size_counts_characters_without_whitespace() -> None:
    statements = [{**READ, "Sid": f"S{i}", "Resource": f"arn:aws:s3:::bucket-{i:04d}/*"} for i in range(80)]
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=4)
    size = len("".join(text.split()))
    assert 6144 < size < len(text)
    assert document_problems(text, IDENTITY, 6144, True) == [
        f"is {size} characters without whitespace, over the limit of 6144"]
    assert document_problems(text, IDENTITY, 10240, True) == []


@pytest.mark.parametrize(("stmt", "kind", "expected"), [
    ({**READ, "Action": "s3 GetObject"}, IDENTITY, "action 's3 GetObject' is not written service:Action"),
    ({**READ, "Action": "GetObject"}, IDENTITY, "action 'GetObject' is not written service:Action"),
    ({**READ, "Principal": "*"}, IDENTITY, "an identity policy may not name a Principal"),
    ({k: v for k, v in READ.items() if k != "Resource"}, IDENTITY, "an identity policy statement needs a Resource"),
    ({**ASSUME, "Resource": "*"}, TRUST, "a trust policy may not name a Resource"),
    ({**ASSUME, "Principal": {"Service": "ec2"}}, TRUST, "Service principal 'ec2' is not a valid Service principal"),
    ({**ASSUME, "Principal": {"AWS": "12345"}}, TRUST, "AWS principal '12345' is not a valid AWS principal"),
    ({**ASSUME, "Principal": {"User": "x"}}, TRUST, "principal type 'User' is not one of"),
    ({**READ, "Condition": {"StringEquals": {"sub": "x"}}}, IDENTITY, "condition key 'sub' is not written prefix:name"),
    ({**READ, "Condition": {"StringEqualz": {"aws:x": "y"}}}, IDENTITY, "condition operator 'StringEqualz' is not an IAM"),
    ({**READ, "Effect": "allow"}, IDENTITY, "Effect 'allow' is neither Allow nor Deny"),
    ({**READ, "Sid": "read-all"}, IDENTITY, "Sid 'read-all' is not alphanumeric"),
    ({k: v for k, v in ASSUME.items() if k != "Principal"}, RESOURCE, "a resource policy statement needs a Principal"),
])
def test_each_malformed_element_is_named(stmt: dict[str, Any], kind: str, expected: str) -> None:
    problems = document_problems(_doc(stmt), kind, None, True)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_condition_operators_with_set_and_if_exists_modifiers_pass() -> None:
    cond = {"ForAnyValue:StringLike": {"aws:PrincipalTag/team": "a*"}, "BoolIfExists": {"aws:SecureTransport": "true"},
            "StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:a:b"}}
    assert document_problems(_doc({**READ, "Condition": cond}), IDENTITY, None, True) == []


def test_unknown_values_are_not_judged() -> None:
    assert document_problems(UNKNOWN, IDENTITY, 10, True) == []
    partly = {"Version": "2012-10-17", "Statement": [{**READ, "Action": UNKNOWN, "Resource": UNKNOWN}]}
    assert document_problems(partly, IDENTITY, 10, True) == []  # no size verdict on a document with unknowns
    assert document_problems(_doc({**ASSUME, "Principal": {"AWS": UNKNOWN}}), TRUST, None, True) == []


def test_the_engine_refuses_a_program_with_invalid_documents() -> None:
    with pytest.raises(PlanError) as err:
        plan_program(PROGRAMS / "engine_parity", "policy")
    assert err.value.kind == "input"
    lines = str(err.value).splitlines()
    inline = "urn:pulumi:policy::engine_parity::aws:iam/rolePolicy:RolePolicy::inline: policy "
    assert f"{inline}Sid 'Read' appears 2 times (Sids must be unique within a policy)" in lines
    assert f"{inline}action 's3 GetObject' is not written service:Action" in lines
    assert ("urn:pulumi:policy::engine_parity::aws:iam/role:Role::trust: assumeRolePolicy Service principal "
            "'not a service' is not a valid Service principal") in lines


def test_sagemaker_serving_names_its_two_buckets_statements_apart() -> None:
    """Issue 26: the serving role's policy repeated ListBucket, ReadObjects and DecryptObjects (artifacts and
    capture bucket); IAM refuses that document."""
    inv = planned("test", PROGRAMS / "serving_sagemaker")
    (policy,) = inv.of_type("aws:iam/rolePolicy:RolePolicy")
    sids = [s["Sid"] for s in json.loads(policy.inputs["policy"])["Statement"]]
    assert "ArtifactsListBucket" in sids and "CaptureListBucket" in sids
    assert len(sids) == len(set(sids))


def test_every_document_of_the_prod_stack_is_judged_and_valid() -> None:
    inv = planned("prod")
    docs = [r for r in inv if r.type in ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy",
                                          "aws:s3/bucketPolicy:BucketPolicy", "aws:kms/key:Key")]
    assert len(docs) > 40 and all(isinstance(next(iter(r.inputs.get(f) for f in ("policy", "assumeRolePolicy")
                                                        if r.inputs.get(f)), None), str) for r in docs)
    assert policy_problems(inv.resources) == []


def _record(type_: str, name: str, inputs: dict[str, Any]) -> ResourceRecord:
    return ResourceRecord(urn=f"urn:pulumi:s::p::{type_}::{name}", type=type_, name=name, parent=None, custom=True,
                          id=None, inputs=inputs, options={})


def test_a_roles_inline_policies_are_limited_together() -> None:
    """Each document is under 10,240, the role's inline policies together are not (IAM's aggregate quota)."""
    statements = [{**READ, "Sid": f"S{i}", "Resource": f"arn:aws:s3:::bucket-{i:04d}/*"} for i in range(70)]
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
    size = len("".join(doc.split()))
    assert 5120 < size < 10240
    role = _record("aws:iam/role:Role", "r", {"name": "worker", "assumeRolePolicy": _doc(ASSUME)})
    one = _record("aws:iam/rolePolicy:RolePolicy", "one", {"role": "worker", "policy": doc})
    two = _record("aws:iam/rolePolicy:RolePolicy", "two", {"role": "worker", "policy": doc})
    other = _record("aws:iam/rolePolicy:RolePolicy", "other", {"role": "someone-else", "policy": doc})
    assert policy_problems([role, one, other]) == []
    assert policy_problems([role, one, two, other]) == [
        f"{role.urn}: inline policies total {2 * size} characters without whitespace, over the role's aggregate "
        "limit of 10240"]
