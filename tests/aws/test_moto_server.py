"""The commands over real HTTP: moto's standalone server on localhost, reached only through AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from .conftest import PROGRAM, REGION, run_cli

pytestmark = pytest.mark.slow  # moto's server: the slow tier (.ci/run)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def test_bootstrap_twice_over_http(capsys: pytest.CaptureFixture[str], endpoint: str) -> None:
    code, out, err = run_cli(capsys, "bootstrap", "--bucket", "http-state", "--region", REGION)
    assert (code, err) == (0, "")
    assert f"endpoint: {endpoint} (AWS_ENDPOINT_URL)" in out.splitlines()
    # The bucket exists on the server, not in some in-process mock.
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    assert s3.get_bucket_versioning(Bucket="http-state")["Status"] == "Enabled"
    code, out, _ = run_cli(capsys, "bootstrap", "--bucket", "http-state", "--region", REGION, "--format", "json")
    assert code == 0 and {i["state"] for i in json.loads(out)["items"]} == {"ok"}


def test_audit_finds_drift_over_http(capsys: pytest.CaptureFixture[str], endpoint: str) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    ddb.create_table(TableName="mlops-prod-http-online", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                     Tags=[{"Key": "environment", "Value": "prod"}, {"Key": "owner", "Value": "ml-platform"}])
    code, out, _ = run_cli(capsys, "audit", "--program", str(PROGRAM), "--stack", "prod", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert {"subject": "dynamodb:mlops-prod-http-online", "control": "point-in-time recovery", "status": "FAIL",
            "detail": "disabled", "remedy": "re-enable point-in-time recovery"} in data["checks"]


def test_preflight_over_http(capsys: pytest.CaptureFixture[str], endpoint: str) -> None:
    # No GPU pools, so no Service Quotas lookup (moto serves none for ec2); AZs and the EKS version go over HTTP.
    code, out, _ = run_cli(capsys, "preflight", "--program", str(PROGRAM), "--stack", "nogpu", "--format", "json")
    data = json.loads(out)
    assert data["azs"] == ["us-east-1a", "us-east-1b"]  # dev profile: azCount 2
    by_subject = {c["subject"]: c for c in data["checks"]}
    assert by_subject["region us-east-1"]["status"] == "PASS"
    eks = by_subject["eks 1.35"]
    assert eks["detail"].endswith("(from the built-in table; this endpoint has no DescribeClusterVersions)")
    assert code == (1 if eks["status"] == "FAIL" else 0)  # the table's verdict depends on today's date
