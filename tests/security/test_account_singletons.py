"""Issue 27 item 2: one GuardDuty detector and one account analyzer per account and Region.

The shipped stacks (stacks/) share one account and Region; prod creates both, staging adopts them. The stack set
refuses two creators of one account and Region, listing every problem once, keyed like the YAML; a stack that adopts
creates neither the detector nor its features but still routes findings to its alert topic.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.platform.stack_set import load_stack_set
from tests.conftest import ROOT, planned

STACKS = ROOT / "stacks"
DETECTOR = "aws:guardduty/detector:Detector"
ANALYZER = "aws:accessanalyzer/analyzer:Analyzer"


def test_the_shipped_stacks_create_each_singleton_once_per_account_and_region() -> None:
    entries = load_stack_set(STACKS)
    assert sorted(e.stack for e in entries) == ["dev", "prod", "staging"]
    creators = {key: sorted(e.stack for e in entries if e.config.security_baseline.creates()[key])
                for key in ("guarddutyDetector", "accountAnalyzer")}
    assert creators == {"guarddutyDetector": ["prod"], "accountAnalyzer": ["prod"]}


def _copy_stacks(tmp_path: Path, edit: dict[str, dict[str, object]]) -> Path:
    for f in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    for stack, security in edit.items():
        path = tmp_path / f"Pulumi.{stack}.yaml"
        data = yaml.safe_load(path.read_text())
        data["config"]["mlops:platform"]["securityBaseline"] = security
        path.write_text(yaml.safe_dump(data))
    return tmp_path


def test_two_creators_in_one_account_and_region_are_refused_with_every_problem_once(tmp_path: Path) -> None:
    # Staging back to the default (create both), and dev turning the baseline on: three creators.
    directory = _copy_stacks(tmp_path, {"staging": {}, "dev": {"enabled": True}})
    with pytest.raises(ConfigError) as info:
        load_stack_set(directory)
    problems = info.value.problems
    assert [p.split(": ", 2)[:2] for p in problems] == [
        ["Pulumi.prod.yaml", "securityBaseline.guarddutyDetector"],
        ["Pulumi.staging.yaml", "securityBaseline.guarddutyDetector"],
        ["Pulumi.prod.yaml", "securityBaseline.accountAnalyzer"],
        ["Pulumi.staging.yaml", "securityBaseline.accountAnalyzer"],
    ]
    assert "stack dev creates the GuardDuty detector too" in problems[0]
    assert str(info.value).startswith(f"{directory.name}: 4 problems")


def test_stacks_in_different_accounts_may_each_create(tmp_path: Path) -> None:
    directory = _copy_stacks(tmp_path, {"staging": {}})
    for stack, account in (("prod", "111111111111"), ("staging", "222222222222")):
        path = directory / f"Pulumi.{stack}.yaml"
        data = yaml.safe_load(path.read_text())
        data["config"]["aws:allowedAccountIds"] = [account]
        path.write_text(yaml.safe_dump(data))
    assert len(load_stack_set(directory)) == 3


def test_existing_needs_its_reference_and_create_refuses_one() -> None:
    base = {"environment": "staging", "tags": {"owner": "o", "costCenter": "c"}}
    with pytest.raises(ConfigError) as info:
        load_platform_config({**base, "securityBaseline": {
            "guarddutyDetector": "existing", "accountAnalyzerArn":
                "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/a"}})
    assert [p for p in info.value.problems if p.startswith("securityBaseline.")] == [
        "securityBaseline.guarddutyDetectorId: required when guarddutyDetector is existing",
        "securityBaseline.accountAnalyzerArn: set, but accountAnalyzer is create",
    ]


@pytest.fixture(scope="module")
def staging() -> Inventory:
    return planned("staging")


def test_an_adopting_stack_creates_no_detector_features_or_analyzer_but_routes_findings(
        staging: Inventory) -> None:
    assert staging.of_type(DETECTOR) == [] and staging.of_type(ANALYZER) == []
    assert staging.of_type("aws:guardduty/detectorFeature:DetectorFeature") == []
    (rule,) = [r for r in staging.of_type("aws:cloudwatch/eventRule:EventRule") if "aws.guardduty" in r.inputs["eventPattern"]]
    (target,) = [t for t in staging.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.name.endswith("findings-to-alerts")]
    assert target.inputs["rule"].startswith(rule.name)  # the rule's physical name
    assert staging.outputs["guardDutyDetectorId"] == "12abc34d567e8fa901bc2d34e56789f0"


def test_the_owning_stack_creates_both() -> None:
    prod = planned("prod")
    assert len(prod.of_type(DETECTOR)) == 1 and len(prod.of_type(ANALYZER)) == 1
