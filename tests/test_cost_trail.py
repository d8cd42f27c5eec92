"""What the audit trail costs: its management events as the copy the trail says it is, its data events, and their copy
in its log group.

CloudTrail delivers the first copy of management events in each Region of an account free and bills every additional
copy, $2.00 per 100,000 (AWS CloudTrail pricing). Which copy a trail is depends on the account's other trails, which
no plan shows, so the trail states it: AuditTrail tags it `mlops:management-events-copy` from
`securityBaseline.trailManagementCopy` (default: `additional` with `guarddutyDetector: existing`, else `first`), and
the estimate reads that tag (review FSEC3 #1: it guessed from an EventBridge rule on `aws.guardduty`, which exists
only with an alert topic, so staging without monitoring was priced as the free copy, and a detector's owner was
always free, even beside an organization trail).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mlops_infra.cost import Assumptions, Estimate, Item, Price, PriceTable, estimate, items_from_inventory
from mlops_infra.cost.model import MANAGEMENT_COPY_TAG
from mlops_infra.plan import Inventory, plan_program
from mlops_infra.security.config import SecurityBaselineConfig
from tests.conftest import ROOT, planned

TRAIL = "aws:cloudtrail/trail:Trail"
TABLE = PriceTable("2026-11-30", "test", 730.0, {"us-east-1": {
    "cloudtrail:paid-management-events-100k": Price(2.0, "x", "test"),
    "cloudtrail:data-events-100k": Price(0.1, "x", "test"), "logs:ingest-gb": Price(0.5, "x", "test")}})
MANAGEMENT = {"name": "Management events", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}
DATA = {"name": "S3 data events", "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}


def _trail(copy: str | None = None, selectors: list[dict[str, Any]] | None = None, **extra: Any) -> Item:
    tags = {"environment": "x", **({MANAGEMENT_COPY_TAG: copy} if copy else {})}
    return Item(TRAIL, "trail", {"isMultiRegionTrail": True, "tags": tags,
                                 "advancedEventSelectors": [MANAGEMENT, DATA] if selectors is None else selectors,
                                 **extra})


def _run(*items: Item, assumptions: Assumptions | None = None) -> Estimate:
    return estimate(list(items), region="us-east-1", prices=TABLE, assumptions=assumptions)


def _management(est: Estimate) -> tuple[float | None, float | None, str]:
    [line] = [ln for ln in est.lines if ln.type == TRAIL and "management events" in ln.what]
    return line.idle, line.max, line.reason


# What made the old guess: a findings rule on aws.guardduty (an adopted detector's), and a detector (its owner).
FINDINGS_RULE = Item("aws:cloudwatch/eventRule:EventRule", "findings",
                     {"eventPattern": '{"detail-type": ["GuardDuty Finding"], "source": ["aws.guardduty"]}'})
DETECTOR = Item("aws:guardduty/detector:Detector", "gd", {"enable": True})


def test_a_trail_is_priced_as_the_copy_its_tag_states_whatever_else_the_stack_holds() -> None:
    volumes = Assumptions(cloudtrail_management_events_million_per_month=3)
    paid = (3 * 10 * 2.0, 3 * 10 * 2.0, "")
    for neighbours in ([], [FINDINGS_RULE], [DETECTOR], [FINDINGS_RULE, DETECTOR]):
        assert _management(_run(_trail("additional"), *neighbours, assumptions=volumes)) == pytest.approx(paid)
        assert _management(_run(_trail("first"), *neighbours, assumptions=volumes)) == (0.0, 0.0, "")


def test_an_untagged_trail_is_not_priced_rather_than_guessed() -> None:
    idle, top, reason = _management(_run(_trail(None), FINDINGS_RULE))
    assert (idle, top) == (None, None)
    assert MANAGEMENT_COPY_TAG in reason and "trailManagementCopy" in reason
    assert _management(_run(_trail("a-third-copy")))[:2] == (None, None)


def test_a_trail_that_records_no_management_events_has_no_management_line() -> None:
    est = _run(_trail("additional", selectors=[DATA]))
    assert [ln.what for ln in est.lines if ln.type == TRAIL] == ["1M data events"]
    legacy = _run(_trail("additional", selectors=[], eventSelectors=[{"includeManagementEvents": False,
                                                                      "dataResources": [{"type": "AWS::S3::Object"}]}]))
    assert not [ln for ln in legacy.lines if "management" in ln.what]
    default = _run(_trail("additional", selectors=[]))  # no selector: CloudTrail records management events
    assert _management(default)[0] == pytest.approx(20.0)


def test_a_trail_copying_data_events_to_its_log_group_pays_their_ingestion() -> None:
    """Review FSEC2 #4: every data event the trail records is also delivered to its CloudWatch log group, billed per
    GB ingested: data events x cloudtrailEventKb."""
    volumes = Assumptions(cloudtrail_data_events_million_per_month=4, cloudtrail_event_kb=2)
    logged = _run(_trail("first", cloudWatchLogsGroupArn="arn:aws:logs:us-east-1:1:log-group:t:*"), assumptions=volumes)
    [copied] = [ln for ln in logged.lines if "data events copied" in ln.what]
    assert (copied.idle, copied.max) == pytest.approx((4 * 2 * 0.5, 4 * 2 * 0.5))  # 8 GB
    [events] = [ln for ln in logged.lines if "M data events" in ln.what]
    assert (events.idle, events.max) == pytest.approx((4 * 10 * 0.1, 4 * 10 * 0.1))
    unlogged = _run(_trail("first"), assumptions=volumes)
    assert not [ln for ln in unlogged.lines if "copied" in ln.what]


@pytest.mark.parametrize(("detector", "explicit", "effective"), [
    ("create", None, "first"), ("existing", None, "additional"),
    ("create", "additional", "additional"), ("existing", "first", "first")])
def test_the_copy_defaults_from_the_detector_and_is_overridable(detector: str, explicit: str | None,
                                                                effective: str) -> None:
    """A detector's owner in an account whose management events an organization trail records sets `additional`."""
    config = SecurityBaselineConfig.model_validate({
        "guarddutyDetector": detector, **({"guarddutyDetectorId": "abc"} if detector == "existing" else {}),
        **({"trailManagementCopy": explicit} if explicit else {})})
    assert config.effective_trail_management_copy == effective


def test_the_copy_is_refused_without_a_trail() -> None:
    with pytest.raises(ValidationError, match="set, but cloudtrail is false"):
        SecurityBaselineConfig.model_validate({"cloudtrail": False, "trailManagementCopy": "first"})
    SecurityBaselineConfig.model_validate({"cloudtrail": False})


def _management_usd(inv: Inventory) -> float | None:
    est = estimate(items_from_inventory(inv), region="us-east-1")
    [line] = [ln for ln in est.lines if ln.type == TRAIL and "management" in ln.what]
    return line.idle


def _trail_copy(inv: Inventory) -> str:
    (trail,) = inv.of_type(TRAIL)
    return str(trail.inputs["tags"][MANAGEMENT_COPY_TAG])


def test_staging_pays_its_trails_management_events_and_prod_does_not() -> None:
    """On the plans: staging adopts prod's detector (`guarddutyDetector: existing`), prod creates it."""
    staging, prod = planned("staging"), planned("prod")
    assert (_trail_copy(staging), _trail_copy(prod)) == ("additional", "first")
    paid = Assumptions().cloudtrail_management_events_million_per_month * 20
    assert _management_usd(staging) == pytest.approx(paid)
    assert _management_usd(prod) == 0.0


def test_staging_without_monitoring_still_pays_its_management_events(tmp_path: Path) -> None:
    """Review FSEC3 #1's reproduction: with `monitoring.enabled: false` staging has no alert topic, so no findings
    rule; it still shares prod's account and trail, and is still priced as an additional copy."""
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    stack_file = tmp_path / "stacks" / "Pulumi.staging.yaml"
    stack = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    stack["config"]["mlops:platform"]["monitoring"] = {"enabled": False}
    stack_file.write_text(yaml.safe_dump(stack), encoding="utf-8")
    inv = plan_program(tmp_path, "staging")
    assert not [r for r in inv.of_type("aws:cloudwatch/eventRule:EventRule") if "aws.guardduty" in
                str(r.inputs.get("eventPattern"))], "no alert topic, so no findings rule"
    assert _trail_copy(inv) == "additional"
    assert _management_usd(inv) == pytest.approx(Assumptions().cloudtrail_management_events_million_per_month * 20)
