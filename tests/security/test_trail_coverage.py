"""Every bucket a platform role may write is recorded by the audit trail's S3 data events (review FSEC #6): Airflow's
task pods read the feature and model buckets and write their task logs to the Airflow bucket, which carries no
endpoint guard (DAGs are uploaded from outside the VPC), so a write there is the record of data leaving a guarded
bucket. Judged on the prod plan's IAM policies: what they allow to write, against what the trail records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.plan import Inventory
from tests.conftest import planned
from tests.nonempty import each

WRITES = ("s3:PutObject", "s3:*")
POLICY_TYPES = ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy")


def _recorded(inv: Inventory) -> list[str]:
    (trail,) = inv.of_type("aws:cloudtrail/trail:Trail")
    (data,) = [s for s in trail.inputs["advancedEventSelectors"] if s["name"].startswith("S3 data events")]
    (arns,) = [f["startsWiths"] for f in data["fieldSelectors"] if f["field"] == "resources.ARN"]
    return list(arns)


def _written_buckets(inv: Inventory) -> dict[str, set[str]]:
    """Bucket name -> the IAM policies (by resource name) that allow writing objects into it."""
    out: dict[str, set[str]] = {}
    for record in (r for t in POLICY_TYPES for r in inv.of_type(t)):
        doc: Any = record.inputs.get("policy")
        doc = json.loads(doc) if isinstance(doc, str) else doc
        for stmt in (doc or {}).get("Statement", []):
            actions = stmt.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            if stmt.get("Effect") != "Allow" or not any(a in WRITES for a in actions):
                continue
            resources = stmt.get("Resource", [])
            for arn in resources if isinstance(resources, list) else [resources]:
                if isinstance(arn, str) and arn.startswith("arn:aws:s3:::") and "/" in arn:
                    out.setdefault(arn.removeprefix("arn:aws:s3:::").split("/")[0], set()).add(record.name)
    return out


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_every_bucket_a_platform_role_writes_is_recorded(stack: str) -> None:
    inv = planned(stack)
    recorded = _recorded(inv)
    (trail_bucket,) = [b for b in inv.of_type("aws:s3/bucket:Bucket") if b.name.endswith("-security-audit-bucket")]
    written = {b: who for b, who in _written_buckets(inv).items() if b != trail_bucket.id}
    airflow = [b for b in written if "-airflow-bucket-" in b]
    assert airflow, "Airflow's task pods write their logs to its bucket"
    for name in each(sorted(written)):
        assert f"arn:aws:s3:::{name}/" in recorded, (name, sorted(written[name]))


def test_the_data_selector_is_named_for_every_bucket_it_records() -> None:
    """Review FSEC2 #6: the selector records the unguarded buckets too (the Airflow bucket), so its name, which the
    CloudTrail console and `get-event-selectors` show, may not say it covers the data buckets only."""
    inv = planned("prod")
    (trail,) = inv.of_type("aws:cloudtrail/trail:Trail")
    (data,) = [s for s in trail.inputs["advancedEventSelectors"] if s["name"].startswith("S3 data events")]
    assert [a for a in _recorded(inv) if "-airflow-bucket-" in a], "the trail records the unguarded Airflow bucket"
    assert "data buckets" not in data["name"], data["name"]
