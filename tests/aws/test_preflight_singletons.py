"""`mlops-infra preflight` says whether a stack creates or adopts the account's GuardDuty detector and account
analyzer (issue 27 item 2). GuardDuty runs on moto (ListDetectors, GetDetector); moto has no IAM Access Analyzer,
so ListAnalyzers is answered by a botocore Stubber."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlops_infra.aws.preflight_singletons import gather_singletons, singleton_checks
from mlops_infra.aws.session import Aws
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS

from .conftest import PROGRAM, REGION, run_cli
from .test_preflight import ENOUGH, stub_analyzers, stub_eks_versions, stub_quotas

pytestmark = pytest.mark.slow  # moto: the slow tier (.ci/run)

OTHER_ANALYZER = "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/org-account-analyzer"


def config(env: str = "prod", **security: Any) -> PlatformConfig:
    return load_platform_config({
        "environment": env, "tags": {"owner": "ml-platform", "costCenter": "cc-1"},
        "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]} if env != "prod" else PROD_API_ACCESS,
        "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
        "securityBaseline": {**(PROD_GUARDS if env == "prod" else {}), **security}})


def checks(cfg: PlatformConfig) -> dict[str, tuple[str, str, str]]:
    return {c.control: (c.status, c.detail, c.remedy) for c in singleton_checks(cfg, gather_singletons(
        Aws(region=REGION), cfg))}


@pytest.mark.usefixtures("moto_aws")
def test_create_fails_on_a_detector_someone_else_made_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    detector = boto3.client("guardduty", region_name=REGION).create_detector(Enable=True, Tags={"owner": "org"})
    stub_analyzers(monkeypatch, [{"arn": OTHER_ANALYZER, "name": "org-account-analyzer", "type": "ACCOUNT",
                                  "createdAt": "2026-01-01T00:00:00Z", "status": "ACTIVE"}])
    got = checks(config())
    status, _, remedy = got["securityBaseline.guarddutyDetector"]
    assert status == "FAIL"
    assert remedy == f"set securityBaseline.guarddutyDetector existing and guarddutyDetectorId {detector['DetectorId']}"
    assert got["securityBaseline.accountAnalyzer"][0] == "FAIL"
    assert got["securityBaseline.accountAnalyzer"][2].endswith(f"accountAnalyzerArn {OTHER_ANALYZER}")


@pytest.mark.usefixtures("moto_aws")
def test_create_passes_on_this_stacks_own_detector_and_analyzer(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config()
    boto3.client("guardduty", region_name=REGION).create_detector(Enable=True, Tags=cfg.resource_tags)
    name = "mlops-prod-security-threats-access-analyzer"  # the child name ThreatDetection gives it
    stub_analyzers(monkeypatch, [{"arn": f"arn:aws:access-analyzer:us-east-1:123456789012:analyzer/{name}",
                                  "name": name, "type": "ACCOUNT", "createdAt": "2026-01-01T00:00:00Z",
                                  "status": "ACTIVE"}])
    got = checks(cfg)
    assert {k: v[0] for k, v in got.items()} == {"securityBaseline.guarddutyDetector": "PASS",
                                                 "securityBaseline.accountAnalyzer": "PASS"}


@pytest.mark.usefixtures("moto_aws")
def test_existing_passes_only_when_the_referenced_ones_are_there(monkeypatch: pytest.MonkeyPatch) -> None:
    detector_id = boto3.client("guardduty", region_name=REGION).create_detector(Enable=True)["DetectorId"]
    stub_analyzers(monkeypatch, [{"arn": OTHER_ANALYZER, "name": "org-account-analyzer", "type": "ACCOUNT",
                                  "createdAt": "2026-01-01T00:00:00Z", "status": "ACTIVE"}])
    adopt = config("staging", guarddutyDetector="existing", guarddutyDetectorId=detector_id,
                   accountAnalyzer="existing", accountAnalyzerArn=OTHER_ANALYZER)
    assert {k: v[0] for k, v in checks(adopt).items()} == {"securityBaseline.guarddutyDetector": "PASS",
                                                           "securityBaseline.accountAnalyzer": "PASS"}


@pytest.mark.usefixtures("moto_aws")
def test_existing_fails_before_the_owner_is_deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    stub_analyzers(monkeypatch)
    adopt = config("staging", guarddutyDetector="existing", guarddutyDetectorId="12abc34d567e8fa901bc2d34e56789f0",
                   accountAnalyzer="existing", accountAnalyzerArn=OTHER_ANALYZER)
    got = checks(adopt)
    assert got["securityBaseline.guarddutyDetector"][:2] == (
        "FAIL", "existing: detector 12abc34d567e8fa901bc2d34e56789f0 is not in this account and Region (found: none)")
    assert got["securityBaseline.accountAnalyzer"][0] == "FAIL"


@pytest.mark.usefixtures("moto_aws")
def test_preflight_refuses_a_stack_whose_neighbour_creates_the_same_singletons(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    program = tmp_path / "program"
    shutil.copytree(PROGRAM, program)
    # A second stack of the same account and Region that also creates the detector and the analyzer.
    (program / "Pulumi.prod2.yaml").write_text((PROGRAM / "Pulumi.prod.yaml").read_text())
    stub_quotas(monkeypatch, ENOUGH)
    stub_eks_versions(monkeypatch)
    stub_analyzers(monkeypatch)
    code, out, _ = run_cli(capsys, "preflight", "--program", str(program), "--stack", "prod", "--format", "json")
    failed = [c for c in json.loads(out)["checks"] if c["status"] == "FAIL"]
    assert code == 1
    assert [(c["subject"], c["control"]) for c in failed] == [
        ("stack set", "securityBaseline.guarddutyDetector"), ("stack set", "securityBaseline.accountAnalyzer")]
    assert failed[0]["detail"].startswith(
        "Pulumi.prod2.yaml: securityBaseline.guarddutyDetector: create, but stack prod creates the GuardDuty detector")
    assert failed[0]["remedy"] == "set securityBaseline.guarddutyDetector existing in stack prod2"
