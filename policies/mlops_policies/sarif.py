"""SARIF 2.1.0 output of a policy report, for code-scanning uploads (GitHub, GitLab, Azure DevOps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import Rule
from .runner import Report

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# GitHub code scanning ranks results by `security-severity` (CVSS-like 0-10).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
TOOL_URI = "https://github.com/mlops-infra/mlops-infra#policy-packs"
SRCROOT = "SRCROOT"
"""The uriBaseId of every relative artifact URI (SARIF 2.1.0 §3.4.4): the repository root, whose absolute `file:` URI
(ending in `/`, §3.14.14) the run's `originalUriBaseIds` gives. GitHub code scanning resolves repository-relative
URIs against its checkout."""


def _rule(rule: Rule, level: str) -> dict[str, Any]:
    meta = rule.meta
    return {
        "id": meta.name,
        "name": "".join(part.capitalize() for part in meta.name.split("-")),
        "shortDescription": {"text": meta.description},
        "fullDescription": {"text": f"{meta.description} Maps to: {', '.join(meta.controls)}."},
        "help": {"text": meta.remediation,
                 "markdown": f"**Remediation:** {meta.remediation}\n\n**Controls:** {', '.join(meta.controls)}"},
        "defaultConfiguration": {"level": _level(level), "enabled": level != "disabled"},
        "properties": {"tags": ["security", "iac", "pulumi", meta.pack, *meta.controls],
                       "security-severity": SECURITY_SEVERITY[meta.severity], "problem.severity": meta.severity,
                       "precision": "high", "strictness": meta.strictness},
    }


def _level(enforcement: str) -> str:
    return {"mandatory": "error", "advisory": "warning"}.get(enforcement, "none")


Locate = Callable[[str, str, str], tuple[str, int, str]]
"""`(urn, resource name, message) -> (uri, line, why)`: where a person fixes the finding and why there (the location's
message: the stack file sets the value, or the line registered the resource with a library default). mlops-infra's
CLI passes one that knows the stack file's lines and where each resource was constructed."""


def _artifact(uri: str, base: str | None) -> dict[str, Any]:
    """A relative URI is relative to `SRCROOT` when the run names it; an absolute one (`file:///...`) stands alone."""
    if base is not None and ":" not in uri.split("/", 1)[0]:
        return {"uri": uri, "uriBaseId": SRCROOT}
    return {"uri": uri}


def to_sarif(report: Report, artifact_uri: str, tool_version: str = "0.1.0", locate: Locate | None = None,
             source_root: str | None = None) -> dict[str, Any]:
    """One run; each result points at `locate`'s file and line (default: line 1 of `artifact_uri`, the stack file)
    and names the resource as a logical location. `source_root`: the absolute `file:` URI (ending in `/`) that
    relative URIs are relative to (the repository root): they then carry `uriBaseId` and the run
    `originalUriBaseIds`."""
    index = {rule.meta.name: i for i, rule in enumerate(report.rules)}
    results: list[dict[str, Any]] = []

    def location(urn: str, name: str, typ: str, message: str) -> dict[str, Any]:
        uri, line, why = locate(urn, name, message) if locate is not None else (artifact_uri, 1, "")
        return {**({"message": {"text": why}} if why else {}),
                "physicalLocation": {"artifactLocation": _artifact(uri, source_root), "region": {"startLine": line}},
                "logicalLocations": [{"name": name, "fullyQualifiedName": urn, "kind": "resource",
                                      "decoratedName": typ}]}

    for f in report.findings:
        results.append({"ruleId": f.policy, "ruleIndex": index[f.policy], "level": _level(f.enforcement),
                        "message": {"text": f"{f.name}: {f.message}"}, "locations": [location(f.urn, f.name, f.type, f.message)],
                        "partialFingerprints": {"mlopsPolicy/v1": f"{f.policy}|{f.urn}|{f.message}"},
                        "properties": {"enforcement": f.enforcement, "severity": f.severity, "pack": f.pack}})
    for w in report.waived:
        results.append({"ruleId": w.policy, "ruleIndex": index[w.policy], "level": "note",
                        "message": {"text": f"{w.resource.name}: {w.message}"},
                        "locations": [location(w.resource.urn, w.resource.name, w.resource.type, w.message)],
                        "suppressions": [{"kind": "external", "status": "accepted",
                                          "justification": f"{w.waiver.reason} (until {w.waiver.expires.isoformat()})"}]})
    bases = {"originalUriBaseIds": {SRCROOT: {"uri": source_root}}} if source_root is not None else {}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            **bases,
            "tool": {"driver": {"name": "mlops-infra check", "informationUri": TOOL_URI, "version": tool_version,
                                "rules": [_rule(r, report.levels.get(r.meta.name, "advisory")) for r in report.rules]}},
            "automationDetails": {"id": f"mlops-infra-check/{report.project}/{report.stack}/"},
            "results": results,
            "properties": {"environment": report.environment, "stack": report.stack, "project": report.project},
        }],
    }
