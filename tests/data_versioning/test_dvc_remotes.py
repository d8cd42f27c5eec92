"""Each team's DVC remote: the `.dvc/config` section in the output, and the managed grants (evaluated with
tests/iam_eval.py): a team's write grant covers its own remote and nothing of another team's."""

from __future__ import annotations

import configparser
import json
import re
from typing import Any

import pytest

from mlops_infra.data.dvc import REMOTE_NAME, remote_section
from mlops_infra.plan import Inventory
from tests import iam_eval
from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

PROGRAM = PROGRAMS / "data_versioning"
KEY = "arn:aws:kms:us-east-1:123456789012:key/35aff05b-2486-9de6-5906-52adcf5584db"


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", PROGRAM)


@pytest.fixture(scope="module")
def gateway() -> Inventory:
    return planned("gateway", PROGRAM)


def policy(inv: Inventory, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(inv.named(name).inputs["policy"])
    return doc


def section(text: str) -> dict[str, str]:
    """The remote's keys, parsed the way configobj (DVC's config parser) reads this INI dialect."""
    parser = configparser.ConfigParser()
    parser.read_string(text.replace("['remote \"", '[remote "').replace("\"']", '"]'))
    return dict(parser[f'remote "{REMOTE_NAME}"'])


def test_each_team_gets_its_own_prefix_of_the_dvc_bucket_as_its_remote(prod: Inventory) -> None:
    remotes = prod.outputs["dvcRemotes"]
    assert sorted(remotes) == ["ranking", "research"]
    bucket = re.findall(r"s3://(mlops-prod-dvc-bucket-[0-9a-f]+)/", remotes["research"]["remote"]["url"])[0]
    for team, out in each(remotes.items()):
        assert out["remote"] == {"url": f"s3://{bucket}/{team}", "region": "us-east-1"}
        assert section(out["dvcConfig"]) == out["remote"]
        assert out["dvcConfig"] == remote_section(out["remote"])


def test_a_teams_write_grant_covers_its_remote_only(prod: Inventory) -> None:
    remotes = prod.outputs["dvcRemotes"]
    bucket = remotes["research"]["remote"]["url"].split("/")[2]
    arn = f"arn:aws:s3:::{bucket}"
    [research_write] = [r for r in prod.of_type("aws:iam/policy:Policy") if r.name == "mlops-prod-dvc-research-write"]
    assert remotes["research"]["writePolicyArn"].startswith("arn:aws:iam::123456789012:policy/mlops-prod-dvc-research-write")
    write = json.loads(research_write.inputs["policy"])
    # What `dvc push` does (dvc-s3 / s3fs): list the remote's prefix, HEAD and PUT content-addressed objects.
    assert iam_eval.allows([write], "s3:PutObject", f"{arn}/research/files/md5/ab/cdef")
    assert iam_eval.allows([write], "s3:GetObject", f"{arn}/research/files/md5/ab/cdef")
    assert iam_eval.allows([write], "s3:ListBucket", arn, {"s3:prefix": "research/files/md5/ab/"})
    assert iam_eval.allows([write], "kms:GenerateDataKey", KEY)
    # ... and nothing of team ranking's remote.
    assert not iam_eval.allows([write], "s3:PutObject", f"{arn}/ranking/files/md5/ab/cdef")
    assert not iam_eval.allows([write], "s3:GetObject", f"{arn}/ranking/files/md5/ab/cdef")
    assert not iam_eval.allows([write], "s3:PutObject", f"{arn}/researchers/x")  # the prefix ends at "/"
    assert not iam_eval.allows([write], "s3:GetObject", f"{arn}/researchers/x")


def test_a_missing_cache_object_reads_as_missing_not_refused(prod: Inventory) -> None:
    """s3fs's `exists` (dvc push, dvc status -c) takes only a 404 as missing. S3 answers a GET/HEAD of a missing key
    with 404 only to a holder of s3:ListBucket on the bucket, else 403, and that check carries no `s3:prefix`."""
    bucket = prod.outputs["dvcRemotes"]["research"]["remote"]["url"].split("/")[2]
    arn = f"arn:aws:s3:::{bucket}"
    for grant in ("read", "write"):
        doc = policy(prod, f"mlops-prod-dvc-research-{grant}")
        assert iam_eval.allows([doc], "s3:GetObject", f"{arn}/research/files/md5/ab/cdef"), grant
        assert iam_eval.allows([doc], "s3:ListBucket", arn, {}), grant


def test_the_read_grant_reads_but_cannot_write(prod: Inventory) -> None:
    bucket = prod.outputs["dvcRemotes"]["ranking"]["remote"]["url"].split("/")[2]
    read = policy(prod, "mlops-prod-dvc-ranking-read")
    obj = f"arn:aws:s3:::{bucket}/ranking/files/md5/ab/cdef"
    assert iam_eval.allows([read], "s3:GetObject", obj) and iam_eval.allows([read], "kms:Decrypt", KEY)
    assert not iam_eval.allows([read], "s3:PutObject", obj)
    assert not iam_eval.allows([read], "s3:DeleteObject", obj)


def test_the_dvc_bucket_is_hardened_and_protected_in_prod(prod: Inventory) -> None:
    [bucket] = [r for r in prod.of_type("aws:s3/bucket:Bucket") if r.name == "mlops-prod-dvc-bucket"]
    assert bucket.options["protect"] is True
    versioning = prod.named("mlops-prod-dvc-bucket-versioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    enc = prod.named("mlops-prod-dvc-bucket-encryption").inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert enc == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}
    statements = policy(prod, "mlops-prod-dvc-bucket-policy")["Statement"]
    assert {s["Sid"] for s in statements} >= {"DenyInsecureTransport", "DenyOutsideVpcEndpoint"}


def test_through_lakefs_the_remote_names_the_gateway_and_no_bucket_exists(gateway: Inventory) -> None:
    remotes = gateway.outputs["dvcRemotes"]
    endpoint = gateway.outputs["lakefsEndpoint"]
    for team, out in each(remotes.items()):
        # LakeFS's S3 gateway: bucket = repository, key = <branch>/<path>; signed requests go to the gateway.
        assert section(out["dvcConfig"]) == {"url": f"s3://{team}/main/dvc", "region": "us-east-1",
                                             "endpointurl": endpoint}
        assert "writePolicyArn" not in out
    assert not [r for r in gateway.of_type("aws:s3/bucket:Bucket") if "dvc" in r.name]
