"""Preflight for the account-level singletons: which of `create` and `existing` applies to this stack.

An account holds one GuardDuty detector and one account analyzer per Region (security/threat_detection.py). Before
`pulumi up`, preflight reads what the account has (`guardduty:ListDetectors`/`GetDetector`,
`access-analyzer:ListAnalyzers` of type ACCOUNT) and checks the stack's choice against it:
- `create` passes when there is none yet, or when the one there is this stack's (its tags or its name); otherwise it
  fails, naming the id or ARN to adopt with `existing`;
- `existing` passes when the referenced detector or analyzer is there; otherwise it fails (deploy the owner first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from ..platform.config import PlatformConfig
from .results import Check
from .session import Aws, error_code

ANALYZER_CHILD = "security-threats-access-analyzer"  # child names: <platform>-security-threats-access-analyzer


@dataclass
class SingletonFacts:
    detectors: dict[str, Mapping[str, str]] = field(default_factory=dict)
    """Detector id -> its tags."""
    analyzers: dict[str, str] = field(default_factory=dict)
    """ACTIVE account analyzers: name -> ARN."""
    analyzer_note: str | None = None
    """Why the analyzers could not be read (the endpoint lacks the API), else None."""


def gather_singletons(aws: Aws, config: PlatformConfig) -> SingletonFacts:
    facts = SingletonFacts()
    sb = config.security_baseline
    if not sb.enabled:
        return facts
    if sb.guardduty:
        for page in aws.guardduty.get_paginator("list_detectors").paginate():
            for detector_id in page.get("DetectorIds", []):
                facts.detectors[detector_id] = aws.guardduty.get_detector(DetectorId=detector_id).get("Tags") or {}
    if sb.access_analyzer:
        try:
            for page in aws.accessanalyzer.get_paginator("list_analyzers").paginate(type="ACCOUNT"):
                for a in page.get("analyzers", []):
                    if a.get("status", "ACTIVE") == "ACTIVE":
                        facts.analyzers[a["name"]] = a["arn"]
        except ClientError as exc:
            if error_code(exc) not in ("404", "NotImplemented", "InvalidAction", "UnknownOperationException"):
                raise
            facts.analyzer_note = f"could not list analyzers ({error_code(exc)})"
    return facts


def _detector_check(config: PlatformConfig, facts: SingletonFacts) -> Check:
    sb, subject, control = config.security_baseline, "guardduty", "securityBaseline.guarddutyDetector"
    if sb.guardduty_detector == "existing":
        if sb.guardduty_detector_id in facts.detectors:
            return Check(subject, control, "PASS", f"existing: adopts detector {sb.guardduty_detector_id}")
        found = ", ".join(facts.detectors) or "none"
        return Check(subject, control, "FAIL", f"existing: detector {sb.guardduty_detector_id} is not in this account "
                     f"and Region (found: {found})",
                     "deploy the stack that creates it first, or set guarddutyDetectorId to the one found, or create")
    if not facts.detectors:
        return Check(subject, control, "PASS", "create: the account has no detector in this Region yet")
    ours = config.resource_tags
    for detector_id, tags in facts.detectors.items():
        if all(tags.get(k) == v for k, v in ours.items()):
            return Check(subject, control, "PASS", f"create: detector {detector_id} is this stack's (its tags)")
    detector_id = next(iter(facts.detectors))
    return Check(subject, control, "FAIL", f"create: the account already has detector {detector_id} in this Region "
                 "(one per account and Region; CreateDetector would fail)",
                 f"set securityBaseline.guarddutyDetector existing and guarddutyDetectorId {detector_id}")


def _analyzer_check(config: PlatformConfig, facts: SingletonFacts) -> Check:
    sb, subject, control = config.security_baseline, "access analyzer", "securityBaseline.accountAnalyzer"
    if facts.analyzer_note:
        return Check(subject, control, "WARN", facts.analyzer_note, "check `aws accessanalyzer list-analyzers`")
    if sb.account_analyzer == "existing":
        if sb.account_analyzer_arn in facts.analyzers.values():
            return Check(subject, control, "PASS", f"existing: adopts {sb.account_analyzer_arn}")
        return Check(subject, control, "FAIL", f"existing: {sb.account_analyzer_arn} is not an active account "
                     f"analyzer here (found: {', '.join(facts.analyzers.values()) or 'none'})",
                     "deploy the stack that creates it first, or set accountAnalyzerArn to the one found")
    ours = f"{config.name}-{config.environment}-{ANALYZER_CHILD}"
    if not facts.analyzers or ours in facts.analyzers:
        return Check(subject, control, "PASS", "create: " + ("this stack's analyzer exists" if facts.analyzers
                                                             else "the account has no account analyzer here yet"))
    arn = next(iter(facts.analyzers.values()))
    return Check(subject, control, "FAIL", f"create: the account already has account analyzer {arn} (one per "
                 "account and Region)", f"set securityBaseline.accountAnalyzer existing and accountAnalyzerArn {arn}")


def singleton_checks(config: PlatformConfig, facts: SingletonFacts) -> list[Check]:
    """The checks for the stack's GuardDuty detector and account analyzer choices. Pure."""
    sb = config.security_baseline
    checks: list[Check] = []
    if sb.enabled and sb.guardduty:
        checks.append(_detector_check(config, facts))
    if sb.enabled and sb.access_analyzer:
        checks.append(_analyzer_check(config, facts))
    return checks
