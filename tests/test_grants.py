"""blocks/grants.py: one managed policy per grant, attached once per role, with valid IAM names, for every owner
(HardenedBucket, FeatureStore, ModelRegistry, and components granting another stack's bucket through BucketRefs)."""

from __future__ import annotations

import json

import pytest

from mlops_infra.blocks.grants import (
    POLICY_NAME_MAX,
    planned_policy_name,
    policy_name_prefix,
    valid_policy_name,
)
from mlops_infra.plan import Inventory
from tests import iam_eval
from tests.conftest import PROGRAMS, planned

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def guarded() -> Inventory:
    return planned("test", PROGRAMS / "data_guard")


def plans() -> dict[str, Inventory]:
    return {"data_guard": planned("test", PROGRAMS / "data_guard"),
            "feature_store": planned("dev", PROGRAMS / "feature_store"),
            "feature_store_sagemaker": planned("sagemaker", PROGRAMS / "feature_store"),
            "model_registry": planned("prod", PROGRAMS / "model_registry"),
            "model_registry_sagemaker": planned("sagemaker", PROGRAMS / "model_registry")}


@pytest.mark.parametrize("name", ["fs-read-policy", "a" * 120, "a" * 121, "x" * 300, "team/a:read-policy"])
def test_policy_names_are_valid_however_long_or_odd_the_resource_name(name: str) -> None:
    prefix = policy_name_prefix(name)
    planned_name = planned_policy_name(name, {"namePrefix": prefix} if prefix else {})
    assert valid_policy_name(planned_name) and len(planned_name) <= POLICY_NAME_MAX, planned_name
    assert (prefix is None) == (len(name) <= 120 and "/" not in name)  # short, clean names keep Pulumi's autoname


def test_long_names_stay_apart() -> None:
    a, b = "x" * 200 + "-read-policy", "x" * 200 + "-write-policy"
    assert policy_name_prefix(a) != policy_name_prefix(b)


@pytest.mark.parametrize("program", ["data_guard", "feature_store", "feature_store_sagemaker", "model_registry",
                                     "model_registry_sagemaker"])
def test_every_planned_managed_policy_has_a_valid_iam_name(program: str) -> None:
    inv = plans()[program]
    policies = inv.of_type(iam_eval.MANAGED_POLICY)
    assert policies
    for record in policies:
        assert valid_policy_name(planned_policy_name(record.name, record.inputs)), record.name


@pytest.mark.parametrize("program", ["data_guard", "feature_store", "feature_store_sagemaker", "model_registry",
                                     "model_registry_sagemaker"])
def test_each_grant_is_one_policy_attached_once_per_role_and_no_inline_grant_remains(program: str) -> None:
    """Granting twice (the programs do) registers nothing twice; each attachment names a planned policy; the
    grants' former inline RolePolicies (`<owner>-<grant>-<role>`) are gone, so old and new never coexist."""
    inv = plans()[program]
    urns = [r.urn for r in inv]
    assert len(urns) == len(set(urns))
    policy_arns = {r.id for r in inv.of_type(iam_eval.MANAGED_POLICY)}
    attachments = [a for a in inv.of_type(iam_eval.ATTACHMENT) if ":iam::aws:policy/" not in a.inputs["policyArn"]]
    assert attachments and all(a.inputs["policyArn"] in policy_arns for a in attachments)
    pairs = [(a.inputs["role"], a.inputs["policyArn"]) for a in attachments]
    assert len(pairs) == len(set(pairs))
    attachment_names = {a.name for a in attachments}
    assert not [r.name for r in inv.of_type(iam_eval.ROLE_POLICY) if r.name in attachment_names]


def test_bucket_refs_grant_through_the_consumers_own_policies(guarded: Inventory) -> None:
    """A component granting a bucket it does not own: its own `<owner>-<grant>-policy`, with a name_prefix (the
    autoname would pass 128 characters), holding the bucket's statements and its key, attached once."""
    [read] = [r for r in guarded.of_type(iam_eval.MANAGED_POLICY) if r.name.endswith("-artifacts-read-policy")]
    [write] = [r for r in guarded.of_type(iam_eval.MANAGED_POLICY) if r.name.endswith("-artifacts-write-models-policy")]
    assert read.inputs["namePrefix"] and len(read.inputs["namePrefix"]) <= POLICY_NAME_MAX - 26
    [bucket] = [r.id for r in guarded.of_type("aws:s3/bucket:Bucket") if r.name == "shared"]
    [key] = [r for r in guarded.of_type("aws:kms/key:Key") if r.name == "key"]
    doc, write_doc = json.loads(read.inputs["policy"]), json.loads(write.inputs["policy"])
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key.id}"
    assert iam_eval.allows([doc], "s3:GetObject", f"arn:aws:s3:::{bucket}/any")
    assert iam_eval.allows([doc], "kms:Decrypt", key_arn) and not iam_eval.allows([doc], "kms:GenerateDataKey", key_arn)
    assert iam_eval.allows([write_doc], "s3:PutObject", f"arn:aws:s3:::{bucket}/models/m.pt")
    assert not iam_eval.allows([write_doc], "s3:PutObject", f"arn:aws:s3:::{bucket}/other")
    assert iam_eval.allows([write_doc], "kms:GenerateDataKey", key_arn)
    attached = [a for a in guarded.of_type(iam_eval.ATTACHMENT) if a.inputs["policyArn"] == read.id]
    assert [a.inputs["role"] for a in attached] == [guarded.named("trainer").id]


def test_the_exported_read_policy_is_the_policy_grant_read_attaches() -> None:
    """`read_policy()` (exported for other stacks' roles) and `grant_read(role)` are one document: no drift."""
    inv = planned("dev", PROGRAMS / "feature_store")
    read_policy = inv.named("fs-read-policy")
    assert inv.named("fs-read-trainer").inputs["policyArn"] == read_policy.id
    assert [r.name for r in inv.of_type(iam_eval.MANAGED_POLICY)].count("fs-read-policy") == 1
