"""The real DVC (with dvc-s3) pushes and pulls through a team's generated remote section, against a moto S3 server
that enforces IAM: the client's user holds exactly the team's generated write grant, so the test also proves that
grant covers what `dvc push`/`pull` really call, and that it cannot push to another team's remote."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import pytest

from mlops_infra.data.config import DVC_S3_VERSION, DVC_VERSION
from tests.conftest import PROGRAMS, planned

from .services import consumer_python, moto_server

pytestmark = pytest.mark.integration
CLIENT = Path(__file__).with_name("dvc_client.py")
# moto answers the first N calls without authentication, then evaluates IAM for every request: N covers the setup
# below (create the bucket, the user, its policy, the attachment and the access key), nothing more.
SETUP_CALLS = 5


def test_dvc_push_and_pull_through_the_generated_remote_and_grant(monkeypatch: pytest.MonkeyPatch) -> None:
    inv = planned("prod", PROGRAMS / "data_versioning")
    remotes = inv.outputs["dvcRemotes"]
    bucket = remotes["research"]["remote"]["url"].split("/")[2]
    grant = inv.named("mlops-prod-dvc-research-write").inputs["policy"]
    python = consumer_python("dvc")
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", str(SETUP_CALLS))
    with moto_server() as url:
        kw = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "setup",
              "aws_secret_access_key": "setup"}
        boto3.client("s3", **kw).create_bucket(Bucket=bucket)
        iam = boto3.client("iam", **kw)
        iam.create_user(UserName="research-workload")
        arn = iam.create_policy(PolicyName="research-dvc-write", PolicyDocument=grant)["Policy"]["Arn"]
        iam.attach_user_policy(UserName="research-workload", PolicyArn=arn)
        key = iam.create_access_key(UserName="research-workload")["AccessKey"]
        work = Path(tempfile.mkdtemp(prefix="it-dvc-"))
        (work / "own.ini").write_text(remotes["research"]["dvcConfig"])
        (work / "other.ini").write_text(remotes["ranking"]["dvcConfig"])
        (work / "repo").mkdir()
        env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
               "DVC_NO_ANALYTICS": "1", "HOME": str(work), "PATH": "/usr/bin:/bin"}
        start = time.monotonic()
        done = subprocess.run([str(python), str(CLIENT), str(work / "repo"), url, str(work / "own.ini"),
                               str(work / "other.ini")], env=env, capture_output=True, text=True, timeout=300)
        print(f"dvc client: {time.monotonic() - start:.1f} s")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    steps = result["steps"]
    assert {k: v for k, v in steps.items() if k != "push-other"} == {
        "init": 0, "default": 0, "endpoint": 0, "endpoint-other": 0, "add": 0, "push": 0, "pull": 0}, done.stderr
    assert result["roundTrip"] is True
    assert steps["push-other"] != 0, "team research's grant pushed to team ranking's remote"
    assert "403" in done.stderr or "Forbidden" in done.stderr or "AccessDenied" in done.stderr


def test_the_dvc_under_test_is_the_pinned_one() -> None:
    out = subprocess.run([str(consumer_python("dvc")), "-c", "import dvc, dvc_s3; from importlib.metadata import "
                          "version; print(version('dvc'), version('dvc-s3'))"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [DVC_VERSION, DVC_S3_VERSION]
