"""Guarded data buckets admit the security services' service-linked roles to their settings, and to nothing else
(issue #27: the endpoint guard denied IAM Access Analyzer and GuardDuty, which read a bucket's policy, ACL and public
access block from AWS's own network, without aws:SourceVpce), and so does the AWS Config recorder (review FSEC #2:
Config rules and Security Hub's S3 controls judge what it records: exactly the bucket reads its managed policy grants
but the object listing and the Control API's tags) and any role `securityBaseline.settingsReaders` adds (a Control
Tower recorder). Judged with tests/iam_eval.py on the prod plans' bucket policies. Macie is not part
of the baseline (no `aws:macie2` resource), so it has no exemption."""

from __future__ import annotations

import fnmatch
import json

import pytest

from mlops_infra.plan import Inventory
from tests import iam_eval
from tests.conftest import ROOT, planned
from tests.nonempty import each
from tests.security.conftest import PROGRAM, policy_doc

ACCOUNT = "123456789012"
ANALYZER = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/access-analyzer.amazonaws.com/AWSServiceRoleForAccessAnalyzer"
GUARDDUTY = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty"
CONFIG = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
# Listed in the security-baseline program's prod stack (`settingsReaders`).
CONTROL_TOWER = f"arn:aws:iam::{ACCOUNT}:role/aws-controltower-ConfigRecorderRole"
LOOKALIKE = f"arn:aws:iam::{ACCOUNT}:role/AWSServiceRoleForAccessAnalyzer"  # same name, not service-linked
# What each role's managed policy lets it call on a bucket (AmazonGuardDutyServiceRolePolicy v10; Access Analyzer
# reads the same settings to find external access).
SETTINGS = ["s3:GetBucketPolicy", "s3:GetBucketPolicyStatus", "s3:GetBucketAcl", "s3:GetBucketPublicAccessBlock",
            "s3:GetEncryptionConfiguration", "s3:GetBucketTagging", "s3:GetBucketLocation"]
# Every S3 action of the AWS Config recorder's managed policy that acts on a bucket, from AWSConfigServiceRolePolicy
# v90 (2026-02-24) as zoph-io/MAMIP records it at commit 3526ec0f561ed404af8172c3c119fe42393fecc4
# (policies/AWSConfigServiceRolePolicy; AWS_ConfigRole, a Control Tower recorder's, grants the same S3 actions; the
# policy's other S3 actions name account-level resources), and what a guarded bucket lets the recorder do with it, as
# blocks/bucket.py documents: every setting read, but not the object listing nor the Control API's tags.
CONFIG_POLICY_BUCKET_ACTIONS = {
    **dict.fromkeys(["s3:GetAccelerateConfiguration", "s3:GetBucketAbac", "s3:GetBucketAcl", "s3:GetBucketCORS",
                     "s3:GetBucketLocation", "s3:GetBucketLogging", "s3:GetBucketNotification",
                     "s3:GetBucketObjectLockConfiguration", "s3:GetBucketPolicy", "s3:GetBucketPolicyStatus",
                     "s3:GetBucketPublicAccessBlock", "s3:GetBucketRequestPayment", "s3:GetBucketTagging",
                     "s3:GetBucketVersioning", "s3:GetBucketWebsite", "s3:GetEncryptionConfiguration",
                     "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration"], "allowed"),
    "s3:ListBucket": "denied", "s3:ListTagsForResource": "denied",
}
# Setting reads no admitted reader's policy grants (review FSEC3 #2: the exemption named them as reads Config makes).
NOT_IN_ANY_READERS_POLICY = ["s3:GetIntelligentTieringConfiguration", "s3:GetInventoryConfiguration",
                             "s3:GetMetricsConfiguration", "s3:GetAnalyticsConfiguration"]
DATA = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject",
        "s3:PutBucketPolicy", "s3:DeleteBucket"]


def _guarded(inv: Inventory) -> list[tuple[str, str]]:
    """(bucket ARN, its policy) for every bucket whose policy carries the endpoint guard."""
    found = []
    for record in inv.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        doc = policy_doc(record)
        if any(s.get("Sid") == "DenyOutsideVpcEndpoint" for s in iam_eval.statements([doc])):
            arn = next(r for s in iam_eval.statements([doc]) for r in iam_eval._list(s.get("Resource", []))
                       if not r.endswith("/*"))
            found.append((arn, doc))
    return found


@pytest.fixture(scope="module")
def guarded(prod: Inventory) -> list[tuple[str, str]]:
    return _guarded(prod)


@pytest.fixture(scope="module")
def guarded_program() -> list[tuple[str, str]]:
    """The security-baseline program's prod stack, which lists a Control Tower recorder in `settingsReaders`."""
    return _guarded(planned("prod", PROGRAM))


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod")


def _context(principal: str) -> dict[str, str]:
    return {"aws:PrincipalArn": principal, "aws:PrincipalAccount": ACCOUNT, "aws:SecureTransport": "true"}


@pytest.mark.parametrize("reader", [ANALYZER, GUARDDUTY, CONFIG], ids=["access-analyzer", "guardduty", "config"])
def test_service_linked_readers_read_every_guarded_buckets_settings(guarded: list[tuple[str, str]], reader: str) -> None:
    assert guarded, "prod guards its data buckets"
    for arn, doc in guarded:
        for action in SETTINGS:
            assert not iam_eval.denies([doc], action, arn, _context(reader)), (arn, action)


@pytest.mark.parametrize("reader", [ANALYZER, GUARDDUTY, CONFIG], ids=["access-analyzer", "guardduty", "config"])
def test_service_linked_readers_reach_no_data_and_change_nothing(guarded: list[tuple[str, str]], reader: str) -> None:
    assert guarded
    for arn, doc in guarded:
        for action in DATA:
            target = arn if action in ("s3:ListBucket", "s3:PutBucketPolicy", "s3:DeleteBucket") else f"{arn}/k"
            assert iam_eval.denies([doc], action, target, _context(reader)), (arn, action)
            # Not even through the endpoint: the second Deny does not look at aws:SourceVpce.
            inside = {**_context(reader), "aws:SourceVpce": "vpce-0s3gateway000001"}
            assert iam_eval.denies([doc], action, target, inside), (arn, action)


def test_a_role_named_like_a_service_linked_role_is_still_guarded(guarded: list[tuple[str, str]]) -> None:
    assert guarded
    for arn, doc in guarded:
        assert iam_eval.denies([doc], "s3:GetBucketPolicy", arn, _context(LOOKALIKE)), arn


def test_configured_settings_readers_read_settings_and_no_data(guarded_program: list[tuple[str, str]]) -> None:
    assert guarded_program, "the program guards its data buckets"
    for arn, doc in guarded_program:
        for action in SETTINGS:
            assert not iam_eval.denies([doc], action, arn, _context(CONTROL_TOWER)), (arn, action)
            assert iam_eval.denies([doc], action, arn, _context(LOOKALIKE)), (arn, action)
        for action in DATA:
            target = arn if action in ("s3:ListBucket", "s3:PutBucketPolicy", "s3:DeleteBucket") else f"{arn}/k"
            assert iam_eval.denies([doc], action, target, _context(CONTROL_TOWER)), (arn, action)


@pytest.mark.parametrize("action", sorted(CONFIG_POLICY_BUCKET_ACTIONS))
def test_the_config_recorder_does_on_a_guarded_bucket_exactly_what_is_documented(
        guarded: list[tuple[str, str]], guarded_program: list[tuple[str, str]], action: str) -> None:
    """Each bucket action of the recorder's policy is a real S3 action (the IAM action table the invariants pack
    ships), allowed or denied as blocks/bucket.py says, for the service-linked recorder on prod's buckets and for a
    Control Tower recorder listed in `settingsReaders`; outside the exemption (a look-alike role) always denied."""
    assert action.removeprefix("s3:") in _s3_actions()
    expected = CONFIG_POLICY_BUCKET_ACTIONS[action]
    cases = [(CONFIG, bucket) for bucket in each(guarded)] + [(CONTROL_TOWER, b) for b in each(guarded_program)]
    for reader, (arn, doc) in each(cases):
        assert iam_eval.denies([doc], action, arn, _context(reader)) == (expected == "denied"), (reader, arn, action)
        assert iam_eval.denies([doc], action, arn, _context(LOOKALIKE)), (arn, action)


@pytest.mark.parametrize("action", NOT_IN_ANY_READERS_POLICY)
def test_settings_no_readers_policy_grants_are_not_exempt(guarded: list[tuple[str, str]], action: str) -> None:
    """Review FSEC3 #2: the exemption admitted the Intelligent-Tiering, inventory, metrics and analytics reads "because
    Config records them"; neither Config's policy nor GuardDuty's grants them, so no admitted reader needs them."""
    assert action.removeprefix("s3:") in _s3_actions()
    for arn, doc in each(guarded):
        assert iam_eval.denies([doc], action, arn, _context(CONFIG)), (arn, action)


def test_settings_reads_name_no_object_action() -> None:
    """Every action the readers' exemption covers is a bucket-setting read: none reads, lists or writes objects."""
    from mlops_infra.blocks.bucket import BUCKET_METADATA_READS
    covered = [a for a in each(_s3_actions())
               if any(fnmatch.fnmatchcase(f"s3:{a}".lower(), p.lower()) for p in BUCKET_METADATA_READS)]
    assert len(covered) > len(BUCKET_METADATA_READS)
    # Reads only; never an object (GetObject*), a listing of objects or uploads, or Access Grants' data credentials.
    assert not [a for a in covered if not a.startswith(("Get", "List"))
                or a.startswith(("GetObject", "ListBucket", "ListMultipart", "GetDataAccess"))]


def _s3_actions() -> list[str]:
    table = json.loads((ROOT / "policies/mlops_policies/data/iam_actions.json").read_text())
    return list(table["services"]["s3"])
