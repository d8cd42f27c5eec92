"""Guarded data buckets admit the security services' service-linked roles to their settings, and to nothing else
(issue #27: the endpoint guard denied IAM Access Analyzer and GuardDuty, which read a bucket's policy, ACL and public
access block from AWS's own network, without aws:SourceVpce), and so does the AWS Config recorder (review FSEC #2:
Config rules and Security Hub's S3 controls judge what it records) and any role `securityBaseline.settingsReaders`
adds (a Control Tower recorder). Judged with tests/iam_eval.py on the prod plans' bucket policies. Macie is not part
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
# Bucket settings the AWS Config recorder records whose read action is not named s3:GetBucket* (review FSEC2 #2).
CONFIG_SETTINGS = ["s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:GetAccelerateConfiguration",
                   "s3:GetIntelligentTieringConfiguration", "s3:GetInventoryConfiguration",
                   "s3:GetMetricsConfiguration", "s3:GetAnalyticsConfiguration", "s3:GetBucketObjectLockConfiguration"]
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


@pytest.mark.parametrize("action", CONFIG_SETTINGS)
def test_the_config_recorder_reads_every_setting_it_records(guarded: list[tuple[str, str]], action: str) -> None:
    """Review FSEC2 #2: before, the second Deny's NotAction named s3:GetBucket* but not the lifecycle, replication,
    acceleration, tiering, inventory, metrics and analytics reads, so Config recorded a guarded bucket without them.
    Each is a real S3 action (the IAM action table the invariants pack ships) and reads no object."""
    assert action.removeprefix("s3:") in _s3_actions()
    assert guarded, "prod guards its data buckets"
    for arn, doc in guarded:
        assert not iam_eval.denies([doc], action, arn, _context(CONFIG)), (arn, action)
        assert iam_eval.denies([doc], "s3:GetObject", f"{arn}/k", _context(CONFIG)), arn
        assert iam_eval.denies([doc], action, arn, _context(LOOKALIKE)), (arn, action)


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
