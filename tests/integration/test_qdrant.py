"""The Qdrant snapshot job's own code (mlops_infra/data/qdrant_snapshot.py), run as the CronJob runs it
(`python qdrant_snapshot.py` with the planned env) in .venv-qdrant (qdrant-client at the server's minor, boto3),
against a stand-in Qdrant node (qdrant_stub.py: real local-mode collections, answers built from qdrant-client's REST
models) and a moto S3 server that enforces IAM with the snapshot role's PLANNED policy (put-only).

Local mode has no snapshot API (qdrant-client 1.19.1 local/qdrant_local.py: `create_snapshot` raises
NotImplementedError), so the snapshot endpoints are the stub's; see qdrant_stub.py for what is real and what is not.
Not exercised: KMS (moto does not check kms: grants), the IRSA token exchange, a real Qdrant server's snapshot
format and multi-node behaviour (the two "nodes" here are one stub reached by two host names).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlops_infra.data import qdrant_snapshot
from tests.conftest import PROGRAMS, planned
from tests.integration.services import consumer_python, free_port, moto_server

pytestmark = pytest.mark.integration

STUB = Path(__file__).with_name("qdrant_stub.py")
JOB = Path(qdrant_snapshot.__file__)
API_KEY = "test-api-key-0123456789"
REGION = "us-east-1"


@contextlib.contextmanager
def stub(data: Path, *extra: str) -> Iterator[int]:
    port = free_port()
    log = data / "stub.log"
    data.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen([str(consumer_python("qdrant")), str(STUB), str(port), str(data), API_KEY, *extra],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # a cold qdrant_client import takes ~20 s
        while "ready" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def planned_job() -> tuple[dict[str, Any], dict[str, str]]:
    """The snapshot role's planned policy and the CronJob's plain env (tests/programs/qdrant, stack prod)."""
    inv = planned("prod", PROGRAMS / "qdrant")
    policy = json.loads(inv.named("mlops-prod-qdrant-snapshot-job-policy").inputs["policy"])
    [cron] = inv.of_type("kubernetes:batch/v1:CronJob")
    [container] = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return policy, {e["name"]: e["value"] for e in container["env"] if "value" in e}


ADMIN: dict[str, tuple[str, str]] = {}


def s3_admin(url: str) -> Any:
    key_id, secret = ADMIN.get(url, ("testing", "testing"))
    return boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id=key_id,
                        aws_secret_access_key=secret)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """moto S3 with the planned bucket and a user holding the planned policy, then IAM enforced."""
    policy, env = planned_job()
    with moto_server() as url:
        s3_admin(url).create_bucket(Bucket=env["SNAPSHOT_BUCKET"])
        iam = boto3.client("iam", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                           aws_secret_access_key="testing")
        iam.create_user(UserName="snapshot-job")
        iam.put_user_policy(UserName="snapshot-job", PolicyName="planned", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="snapshot-job")["AccessKey"]
        iam.create_user(UserName="admin")  # the test's own reads, once IAM is enforced
        iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        admin = iam.create_access_key(UserName="admin")["AccessKey"]
        ADMIN[url] = (admin["AccessKeyId"], admin["SecretAccessKey"])
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset-auth", data=b"0", method="POST",
                                                      headers={"Content-Type": "text/plain"}), timeout=30)
        yield {"url": url, "env": env, "key": (key["AccessKeyId"], key["SecretAccessKey"]),
               "work": tmp_path_factory.mktemp("qdrant")}


def run_job(world: dict[str, Any], port: int, api_key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    """The CronJob's container: its planned env, with the node URLs pointing at the stub (two host names) and S3 at
    moto, as the IAM user that holds the planned policy."""
    env = {**world["env"], "QDRANT_URLS": f"http://localhost:{port},http://127.0.0.1:{port}", "QDRANT_API_KEY": api_key,
           "S3_ENDPOINT_URL": world["url"], "AWS_ACCESS_KEY_ID": world["key"][0],
           "AWS_SECRET_ACCESS_KEY": world["key"][1], "HOME": str(world["work"]), "PATH": os.environ["PATH"]}
    return subprocess.run([str(consumer_python("qdrant")), str(JOB)], env=env, capture_output=True, text=True,
                          timeout=300)


def objects(world: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    listing = s3_admin(world["url"]).list_objects_v2(Bucket=world["env"]["SNAPSHOT_BUCKET"], Prefix=prefix)
    return {o["Key"]: o for o in listing.get("Contents", [])}


def test_the_job_uploads_one_verified_snapshot_per_collection_and_node_and_cleans_up(world: dict[str, Any]) -> None:
    data = world["work"] / "node"
    with stub(data) as port:
        result = run_job(world, port)
    assert result.returncode == 0, result.stderr
    [aliases] = objects(world, "snapshots/aliases/")
    bucket = world["env"]["SNAPSHOT_BUCKET"]
    saved = json.loads(s3_admin(world["url"]).get_object(Bucket=bucket, Key=aliases)["Body"].read())
    assert saved == {"aliases": [{"alias_name": "faq-live", "collection_name": "faq"}]}  # what the stub's cluster has
    keys = sorted(k for k in objects(world, "snapshots/") if k != aliases)
    assert [k.rsplit("/", 1)[0] for k in keys] == ["snapshots/127/docs", "snapshots/127/faq",
                                                    "snapshots/localhost/docs", "snapshots/localhost/faq"]
    s3 = s3_admin(world["url"])
    assert objects(world)[keys[0]]["Size"] > 8 << 20  # docs: above the multipart threshold
    for key in keys:
        head = s3.head_object(Bucket=world["env"]["SNAPSHOT_BUCKET"], Key=key)
        body = s3.get_object(Bucket=world["env"]["SNAPSHOT_BUCKET"], Key=key)["Body"].read()
        assert head["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert not list((data / "snapshots").iterdir())  # every node copy deleted after its upload
    assert not list(Path(world["work"]).glob("qdrant-snapshots-*"))


def test_a_snapshot_restores_into_a_working_collection(world: dict[str, Any], tmp_path: Path) -> None:
    """The README's restore procedure, on the stub's format: fetch the object, unpack, open with qdrant-client."""
    [key] = [k for k in objects(world, "snapshots/localhost/faq/")]
    archive = tmp_path / "faq.snapshot"
    s3_admin(world["url"]).download_file(world["env"]["SNAPSHOT_BUCKET"], key, str(archive))
    restored = tmp_path / "restored"
    with tarfile.open(archive) as tar:
        tar.extractall(restored / "collection", filter="data")
    (restored / "collection" / "meta.json").rename(restored / "meta.json")
    check = ("from qdrant_client import QdrantClient; import sys; c = QdrantClient(path=sys.argv[1]); "
             "print(c.count('faq').count)")
    out = subprocess.run([str(consumer_python("qdrant")), "-c", check, str(restored)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "5", out.stderr


def test_the_planned_role_cannot_read_or_delete_snapshots(world: dict[str, Any]) -> None:
    key = next(iter(objects(world, "snapshots/")))
    job = boto3.client("s3", endpoint_url=world["url"], region_name=REGION, aws_access_key_id=world["key"][0],
                       aws_secret_access_key=world["key"][1])
    for call in (lambda: job.get_object(Bucket=world["env"]["SNAPSHOT_BUCKET"], Key=key),
                 lambda: job.delete_object(Bucket=world["env"]["SNAPSHOT_BUCKET"], Key=key),
                 lambda: job.put_object(Bucket=world["env"]["SNAPSHOT_BUCKET"], Key="elsewhere/x", Body=b"x")):
        with pytest.raises(job.exceptions.ClientError, match="AccessDenied"):
            call()


def test_a_wrong_key_or_a_corrupt_download_fails_the_job_and_uploads_nothing(world: dict[str, Any]) -> None:
    before = set(objects(world))
    with stub(world["work"] / "wrong-key") as port:
        result = run_job(world, port, api_key="not-the-key")
    assert result.returncode == 1 and "list collections: HTTPError: HTTP Error 401" in result.stderr
    data = world["work"] / "corrupt"
    with stub(data, "corrupt") as port:
        result = run_job(world, port)
    assert result.returncode == 1 and "!= Qdrant's checksum" in result.stderr, result.stderr
    # No snapshot uploaded; only the aliases (metadata, independent of the failed collections) were saved.
    assert {k for k in set(objects(world)) - before if not k.startswith("snapshots/aliases/")} == set()
    assert not list((data / "snapshots").iterdir())  # deleted even though the upload never happened
