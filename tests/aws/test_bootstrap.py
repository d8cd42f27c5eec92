"""`mlops-infra bootstrap` on moto: creates a hardened state backend, changes nothing on a re-run, reports a
misconfigured existing bucket and fixes it only with --fix; AWS errors are one line."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlops_infra.aws.bootstrap import TLS_SID, bootstrap
from mlops_infra.aws.session import Aws

from .conftest import REGION, run_cli

pytestmark = [pytest.mark.usefixtures("moto_aws"), pytest.mark.slow]  # moto: the slow tier (.ci/run)

BUCKET = "acme-pulumi-state"
ALIAS = "alias/pulumi-acme-pulumi-state"


def rows(out: str) -> list[list[str]]:
    """The table rows (RESOURCE, SETTING, STATE, DETAIL) of a text report."""
    return [re.split(r"\s{2,}", line, maxsplit=3) for line in out.splitlines()
            if line.startswith(("s3:", "kms:"))]


def mutating_calls(aws: Aws) -> list[str]:
    """Record every write-like API call the clients make from now on."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        if model.name.startswith(("Put", "Create", "Enable", "Delete", "Update", "Tag")):
            calls.append(model.name)

    for client in (aws.s3, aws.kms):
        client.meta.events.register("before-call.*.*", record)
    return calls


def test_fresh_backend_is_created_hardened(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "bootstrap", "--bucket", BUCKET, "--region", REGION)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "  pulumi login 's3://acme-pulumi-state?region=us-east-1&awssdk=v2'" in lines
    assert f"  pulumi stack init <stack> --secrets-provider 'awskms://{ALIAS}?region=us-east-1'" in lines

    s3, kms = boto3.client("s3", region_name=REGION), boto3.client("kms", region_name=REGION)
    key = kms.describe_key(KeyId=ALIAS)["KeyMetadata"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}
    assert rule["BucketKeyEnabled"] is True
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"] == [{
        "Sid": TLS_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]


def test_rerun_changes_nothing() -> None:
    aws = Aws(region=REGION)
    first = bootstrap(aws, BUCKET)
    assert first.changed and not first.drift
    calls = mutating_calls(aws)
    second = bootstrap(aws, BUCKET)
    assert calls == []
    assert {i.state for i in second.items} == {"ok"}
    assert [i.control for i in second.items] == [
        "key", "key state", "rotation", "bucket", "versioning", "encryption", "public access block", "ownership",
        "TLS-only policy"]
    assert second.key_arn == first.key_arn


def test_rerun_through_the_cli_exits_0_with_every_setting_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "bootstrap", "--bucket", BUCKET, "--region", REGION)[0] == 0
    code, out, _ = run_cli(capsys, "bootstrap", "--bucket", BUCKET, "--region", REGION, "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert {i["state"] for i in data["items"]} == {"ok"}
    assert data["loginCommand"] == "pulumi login 's3://acme-pulumi-state?region=us-east-1&awssdk=v2'"
    assert data["secretsProvider"] == f"awskms://{ALIAS}?region=us-east-1"


def _misconfigured_bucket() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, ObjectOwnership="ObjectWriter")
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadForCi", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/ci"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))


def test_misconfigured_bucket_is_reported_not_changed(capsys: pytest.CaptureFixture[str]) -> None:
    _misconfigured_bucket()
    code, out, err = run_cli(capsys, "bootstrap", "--bucket", BUCKET, "--region", REGION)
    assert (code, err) == (1, "")
    assert [r for r in rows(out) if r[2] == "drift"] == [
        [f"s3:{BUCKET}", "versioning", "drift", "never enabled, want Enabled"],
        [f"s3:{BUCKET}", "encryption", "drift", f"AES256, no bucket key, want aws:kms ({ALIAS}), bucket key"],
        [f"s3:{BUCKET}", "public access block", "drift", "off: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, "
         "RestrictPublicBuckets, want all four on"],
        [f"s3:{BUCKET}", "ownership", "drift", "ObjectWriter, want BucketOwnerEnforced"],
        [f"s3:{BUCKET}", "TLS-only policy", "drift", "missing, want present"],
    ]
    assert out.splitlines()[-1] == "5 setting(s) drifted; re-run with --fix to correct them."
    assert "pulumi login" not in out
    s3 = boto3.client("s3", region_name=REGION)
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)


def test_fix_corrects_drift_and_keeps_existing_policy_statements(capsys: pytest.CaptureFixture[str]) -> None:
    _misconfigured_bucket()
    code, out, _ = run_cli(capsys, "bootstrap", "--bucket", BUCKET, "--region", REGION, "--fix")
    assert code == 0
    fixed = {r[1]: r[3] for r in rows(out) if r[2] == "fixed"}
    assert fixed == {"versioning": "never enabled -> Enabled",
                     "encryption": f"AES256, no bucket key -> aws:kms ({ALIAS}), bucket key",
                     "public access block": "off: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, "
                                            "RestrictPublicBuckets -> all four on",
                     "ownership": "ObjectWriter -> BucketOwnerEnforced",
                     "TLS-only policy": "missing -> present"}
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]]
    assert sids == ["ReadForCi", TLS_SID]
    code, out, _ = run_cli(capsys, "bootstrap", "--bucket", BUCKET, "--region", REGION)
    assert code == 0 and {r[2] for r in rows(out)} == {"ok"}


def test_key_without_rotation_is_drift_until_fixed() -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key["KeyId"])
    aws = Aws(region=REGION)
    result = bootstrap(aws, BUCKET)
    assert [(i.control, i.state, i.detail) for i in result.drift] == [("rotation", "drift", "disabled, want enabled")]
    assert bootstrap(aws, BUCKET, fix=True).drift == []
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True


def test_bucket_in_another_region_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    code, out, err = run_cli(capsys, "bootstrap", "--bucket", BUCKET, "--region", REGION)
    assert (code, out) == (2, "")
    assert err == (f"mlops-infra: error: s3 bucket {BUCKET!r} is in eu-west-1, not us-east-1; "
                   "pass --region eu-west-1\n")


@pytest.mark.parametrize(("argv", "message"), [
    (["--bucket", "Bad_Bucket"], "invalid S3 bucket name 'Bad_Bucket' (3-63 characters: a-z, 0-9, '.', '-')"),
    (["--bucket", BUCKET, "--kms-alias", "alias/aws/s3"],
     "invalid KMS alias 'alias/aws/s3' (alias/<name>: A-Z a-z 0-9 / _ -, not alias/aws/...)"),
])
def test_invalid_names_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _, err = run_cli(capsys, "bootstrap", "--region", REGION, *argv)
    assert (code, err) == (2, f"mlops-infra: error: {message}\n")


def test_access_denied_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # moto does not enforce IAM by default: the KMS client answers AccessDeniedException through a Stubber.
    kms = boto3.client("kms", region_name=REGION)
    stub = Stubber(kms)
    stub.add_client_error("describe_key", service_error_code="AccessDeniedException", http_status_code=400,
                          service_message="User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
                                          "kms:DescribeKey")
    stub.activate()
    monkeypatch.setattr(Aws, "kms", property(lambda self: kms))
    code, out, err = run_cli(capsys, "bootstrap", "--bucket", BUCKET, "--region", REGION)
    assert (code, out) == (2, "")
    assert err == ("mlops-infra: error: access denied: DescribeKey (User: arn:aws:iam::123456789012:user/ci is not "
                   "authorized to perform: kms:DescribeKey); check the IAM permissions of the current AWS identity\n")
