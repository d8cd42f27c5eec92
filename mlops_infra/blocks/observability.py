"""How a component contributes its own observability to the platform's monitoring core.

The core (kube-prometheus-stack, its CRDs, alert routing, the alert topic) is built first and hands out a
`MonitoringRefs`. Each component then creates its own ServiceMonitors, PrometheusRules, dashboards and CloudWatch
alarms with the helpers below, from typed values: no component rebuilds another's child names.

The Prometheus the core installs selects every ServiceMonitor and PrometheusRule in the cluster
(`*SelectorNilUsesHelmValues: false`), and Grafana's dashboard sidecar loads every ConfigMap labelled
`grafana_dashboard: "1"` in any namespace (`searchNamespace: ALL`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .naming import child, child_options

MONITORING_API = "monitoring.coreos.com/v1"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
PART_OF = {"app.kubernetes.io/part-of": "mlops-platform"}


@dataclass(frozen=True)
class MonitoringRefs:
    """What a component needs from the monitoring core to contribute to it."""

    namespace: pulumi.Input[str]
    """The monitoring namespace (Prometheus, Alertmanager, Grafana)."""
    prometheus_namespace: str
    """The namespace name as a plain string, for NetworkPolicies that admit Prometheus's scrapes."""
    crd_dependencies: Sequence[pulumi.Resource] = ()
    """What installs the monitoring.coreos.com CRDs (the Prometheus release): every ServiceMonitor and
    PrometheusRule depends on it. Default: none (CRDs installed by another stack)."""
    alert_topic_arn: pulumi.Input[str] | None = None
    """The SNS topic CloudWatch alarms notify. Default: None (no alarms)."""


@dataclass(frozen=True)
class ScrapeEndpoint:
    port: str
    """The Service's port *name*."""
    path: str = "/metrics"
    interval: str = "30s"
    honor_labels: bool = False


@dataclass(frozen=True)
class RuleGroup:
    """One Prometheus rule group: `rules` are rule dicts as in a Prometheus rule file (alert/expr/for/labels/...)."""

    name: str
    rules: Sequence[Mapping[str, Any]]
    interval: str | None = None


@dataclass
class ObservabilityContribution:
    """What one component contributed (for tests and outputs)."""

    service_monitors: list[k8s.apiextensions.CustomResource] = field(default_factory=list)
    rules: list[k8s.apiextensions.CustomResource] = field(default_factory=list)
    dashboards: list[k8s.core.v1.ConfigMap] = field(default_factory=list)


def service_monitor(owner: pulumi.Resource, name: str, refs: MonitoringRefs, *, object_name: str,
                    namespace: pulumi.Input[str], match_labels: Mapping[str, str],
                    endpoints: Sequence[ScrapeEndpoint], depends_on: Sequence[pulumi.Resource] = (),
                    provider: pulumi.ProviderResource | None = None) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor in the workload's namespace selecting exactly `match_labels` there.

    `depends_on` should name what creates the Service (a Helm release); the CRDs come from `refs`."""
    return k8s.apiextensions.CustomResource(
        child(name, "servicemonitor"), api_version=MONITORING_API, kind="ServiceMonitor",
        metadata={"name": object_name, "namespace": namespace, "labels": dict(PART_OF)},
        spec={"selector": {"matchLabels": dict(match_labels)},
              "namespaceSelector": {"matchNames": [namespace]},
              "endpoints": [{"port": e.port, "path": e.path, "interval": e.interval, "honorLabels": e.honor_labels}
                            for e in endpoints]},
        opts=child_options(owner, depends_on=[*refs.crd_dependencies, *depends_on], provider=provider))


def prometheus_rule(owner: pulumi.Resource, name: str, refs: MonitoringRefs, *, object_name: str,
                    namespace: pulumi.Input[str], groups: Sequence[RuleGroup],
                    provider: pulumi.ProviderResource | None = None) -> k8s.apiextensions.CustomResource:
    """A PrometheusRule holding `groups` (render them with `rule_file` to check them with promtool)."""
    return k8s.apiextensions.CustomResource(
        child(name, "rules"), api_version=MONITORING_API, kind="PrometheusRule",
        metadata={"name": object_name, "namespace": namespace, "labels": dict(PART_OF)},
        spec=rule_file(groups), opts=child_options(owner, depends_on=refs.crd_dependencies, provider=provider))


def rule_file(groups: Sequence[RuleGroup]) -> dict[str, Any]:
    """The groups as a Prometheus rule file (also a PrometheusRule's `spec`)."""
    out = []
    for g in groups:
        group: dict[str, Any] = {"name": g.name, "rules": [dict(r) for r in g.rules]}
        if g.interval:
            group["interval"] = g.interval
        out.append(group)
    return {"groups": out}


def dashboard(owner: pulumi.Resource, name: str, *, uid: str, namespace: pulumi.Input[str],
              board: Mapping[str, Any], provider: pulumi.ProviderResource | None = None) -> k8s.core.v1.ConfigMap:
    """A Grafana dashboard as a ConfigMap the Grafana sidecar loads (any namespace, label `grafana_dashboard`)."""
    return k8s.core.v1.ConfigMap(
        child(name, f"dashboard-{uid}"),
        metadata={"name": child(name, uid)[:63].rstrip("-"), "namespace": namespace,
                  "labels": {**DASHBOARD_LABEL, **PART_OF}},
        data={f"{uid}.json": json.dumps(dict(board), sort_keys=True)}, opts=child_options(owner, provider=provider))
