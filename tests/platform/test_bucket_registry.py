"""Every bucket pods reach is admitted by the S3 gateway endpoint, and every data bucket's object events are
recorded by the audit trail: including the buckets the add-ons create after the security baseline is built (the
trail and the endpoint policy come after them, `security_baseline.bucket_guards`). In prod the endpoint admits only
the buckets it names, so a bucket missing from its policy is unreachable from the cluster (LakeFS could not write
its blockstore, teams could not `dvc push`)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PROGRAMS, planned

TRAIL_BUCKET = "-security-audit-"  # written by CloudTrail itself, never by pods


def _bucket_arns(stack: str) -> dict[str, str]:
    return {b.name: f"arn:aws:s3:::{b.id}" for b in planned(stack).of_type("aws:s3/bucket:Bucket")
            if TRAIL_BUCKET not in b.name}


def _guarded(stack: str) -> set[str]:
    """ARNs of buckets whose policy carries the VPC-endpoint guard (the data buckets)."""
    found = set()
    for pol in planned(stack).of_type("aws:s3/bucketPolicy:BucketPolicy"):
        for stmt in json.loads(pol.inputs["policy"])["Statement"]:
            if stmt.get("Sid") == "DenyOutsideVpcEndpoint":
                found.add(stmt["Resource"][0])
    return found


def _endpoint_admits(stack: str) -> set[str]:
    [endpoint] = planned(stack).of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy")
    [stmt] = [s for s in json.loads(endpoint.inputs["policy"])["Statement"] if s["Sid"] == "PlatformBucketsOwnPrincipals"]
    return {r for r in stmt["Resource"] if not r.endswith("/*")}


@pytest.mark.parametrize("stack", ["prod"])
def test_the_s3_endpoint_admits_every_platform_bucket_including_the_add_ons(stack: str) -> None:
    buckets = _bucket_arns(stack)
    assert {"mlops-prod-lakefs-blockstore", "mlops-prod-dvc-bucket", "mlops-prod-airflow-bucket"} <= set(buckets)
    missing = {name for name, arn in buckets.items() if arn not in _endpoint_admits(stack)}
    assert missing == set()


@pytest.mark.parametrize("stack", ["prod"])
def test_the_trail_records_object_events_of_every_bucket_pods_reach(stack: str) -> None:
    """Guarded or not (review FSEC #6: Airflow's task pods read data buckets and write the unguarded Airflow bucket)."""
    [trail] = planned(stack).of_type("aws:cloudtrail/trail:Trail")
    [data] = [s for s in trail.inputs["advancedEventSelectors"] if s["name"].startswith("S3 data events")]
    [prefixes] = [f["startsWiths"] for f in data["fieldSelectors"] if f["field"] == "resources.ARN"]
    guarded = _guarded(stack)
    assert len(guarded) >= 5  # feature store, registry, LakeFS, DVC, Qdrant snapshots
    assert {p.rstrip("/") for p in prefixes} == set(_bucket_arns(stack).values()) == _endpoint_admits(stack)


def test_an_add_on_that_fails_leaves_the_trail_and_the_endpoint_policy_unregistered() -> None:
    """#27 item 10: the trail and the endpoint policy are built after the add-ons, so an add-on that raises stops
    the program before either registers (a failed `pulumi up` never updates them to lists without its buckets)."""
    inv = planned("prod", PROGRAMS / "failing_addon")
    assert inv.outputs["failure"] == "add-on failed after creating its bucket"
    assert [b.name for b in inv.of_type("aws:s3/bucket:Bucket") if b.name == "mlops-prod-doomed"]
    assert inv.of_type("aws:guardduty/detector:Detector") or inv.of_type("aws:secretsmanager/secret:Secret")
    assert not inv.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy")
    assert not inv.of_type("aws:cloudtrail/trail:Trail")
    # Nor the egress guards, whose port list the failed add-on (and those after it) would have extended.
    assert not inv.of_type("mlops:security:ExfiltrationGuards")
    assert not [r for r in inv.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r.inputs["metadata"]["name"] == "allow-platform-egress"]

