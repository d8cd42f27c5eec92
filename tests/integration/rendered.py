"""What the plans render for the real consumers: Prometheus rule groups and IAM policy documents.

Read from the plan inventories (the mock engine records every input), never rebuilt from the library's helpers,
so a check sees exactly what `pulumi up` would send.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlops_infra.plan import Inventory

PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def rule_groups(inventory: Inventory) -> list[dict[str, Any]]:
    """Every rule group: PrometheusRule objects, plus kube-prometheus-stack `additionalPrometheusRulesMap`."""
    groups: list[dict[str, Any]] = []
    for record in inventory.of_type(PROMETHEUS_RULE):
        groups += record.inputs["spec"]["groups"]
    for record in inventory.of_type(HELM_RELEASE):
        if str(record.inputs.get("chart", "")).endswith("kube-prometheus-stack"):
            extra = (record.inputs.get("values") or {}).get("additionalPrometheusRulesMap") or {}
            for entry in extra.values():
                groups += entry["groups"]
    return groups


def alert_names(inventory: Inventory) -> set[str]:
    return {rule["alert"] for group in rule_groups(inventory) for rule in group["rules"] if "alert" in rule}


@dataclass(frozen=True)
class PolicyDocument:
    resource_type: str
    resource_name: str
    path: str
    """Where in the resource's inputs, e.g. `.policy` or `.assumeRolePolicy`."""
    document: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.resource_type} {self.resource_name}{self.path}"


def _documents(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and '"Statement"' in text:
            parsed = json.loads(text)  # a document that does not parse is a failure, not a skip
            yield path, parsed
    elif isinstance(value, dict):
        if "Statement" in value:
            yield path, value
            return
        for key, item in value.items():
            yield from _documents(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _documents(item, f"{path}[{i}]")


def policy_documents(inventory: Inventory) -> list[PolicyDocument]:
    """Every IAM policy document in any input of any resource (JSON strings or objects with a `Statement`)."""
    return [PolicyDocument(r.type, r.name, path, doc) for r in inventory for path, doc in _documents(r.inputs, "")]
