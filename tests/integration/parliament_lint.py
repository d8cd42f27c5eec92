"""Lint IAM policy documents with parliament (imported lazily: the unit tier does not install it)."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .rendered import PolicyDocument

ACCEPTED_FILE = Path(__file__).resolve().parent / "parliament_accepted.yaml"
# Findings about least privilege (Resource "*") are the policy packs' business (policies/mlops_policies), and a
# KMS key policy must name "*" (the key itself). Every other finding fails the check unless accepted.
NOT_JUDGED = {"RESOURCE_STAR", "RESOURCE_EFFECTIVELY_STAR"}
PLACEHOLDER_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Finding:
    plan: str
    where: str
    resource_name: str
    issue: str
    detail: str
    location: str

    def __str__(self) -> str:
        return f"{self.plan}: {self.where}: {self.issue} {self.detail} {self.location}".strip()


def kind(doc: PolicyDocument) -> str:
    if doc.path.endswith("assumeRolePolicy"):
        return "trust"
    statements = doc.document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    return "resource" if any("Principal" in s or "NotPrincipal" in s for s in statements) else "identity"


def prepared(doc: PolicyDocument) -> dict[str, Any]:
    """parliament 1.6.4 requires Resource in every statement (statement.py: "Statement contains neither Resource
    nor NotResource"), but a role trust policy has none: its resource is the role. Name the role so parliament can
    still check the actions, conditions and principals of the trust policy."""
    if kind(doc) != "trust":
        return doc.document
    document = copy.deepcopy(doc.document)
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    for statement in statements:
        statement.setdefault("Resource", f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/{doc.resource_name}")
    return document


def lint(plan: str, doc: PolicyDocument) -> list[Finding]:
    import parliament  # integration dependency

    policy = parliament.analyze_policy_string(json.dumps(prepared(doc)))
    out = []
    for f in policy.findings:
        if f.issue in NOT_JUDGED:
            continue
        location = f.location.get("string", "") if isinstance(f.location, dict) else str(f.location)
        out.append(Finding(plan, doc.where, doc.resource_name, f.issue, json.dumps(f.detail, default=str), str(location)))
    return out


@dataclass(frozen=True)
class Accepted:
    issue: str
    resource: str
    """fnmatch pattern on the resource name."""
    pattern: str
    """regex searched in the finding's detail + location."""
    reason: str
    evidence: str

    def matches(self, f: Finding) -> bool:
        return (f.issue == self.issue and fnmatch.fnmatch(f.resource_name, self.resource)
                and re.search(self.pattern, f"{f.detail} {f.location}") is not None)


def accepted() -> list[Accepted]:
    return [Accepted(**entry) for entry in yaml.safe_load(ACCEPTED_FILE.read_text())["accepted"]]
