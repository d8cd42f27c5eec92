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
    thresholds: Any = None
    """The core's alert thresholds (`monitoring.thresholds`, an observability.config.ThresholdsConfig: blocks
    import no concern; read it with observability.contribution.thresholds_of). Default: none (the defaults)."""
    moved_from: MovedFrom | None = None
    """Where the platform's contributions lived before each component owned them: they alias there, so their URNs
    carry over. Default: none (a new install: nothing to alias)."""


@dataclass(frozen=True)
class MovedFrom:
    """The monitoring component that used to own every rule, dashboard and alarm (`MonitoringStack`, one per
    platform): a contribution that moved out of it aliases its resources to their old names under it."""

    urn: pulumi.Input[str]
    """Its URN (type `mlops:monitoring:MonitoringStack`)."""
    name: str
    """Its name: its children were named `child(name, suffix)`."""
    parent_urn: pulumi.Input[str] | None = None
    """Its parent's URN, where the moved component itself aliases to. Default: none (not needed)."""

    def alias(self, suffix: str) -> pulumi.Alias:
        """The old address of the child `child(name, suffix)`."""
        return pulumi.Alias(name=child(self.name, suffix), parent=self.urn)

    def child(self, type_: str, suffix: str) -> MovedFrom:
        """A component that was its child (e.g. a CloudWatchAlarms): for aliasing that component's children."""
        def urn(parent: str) -> str:
            # urn:pulumi:<stack>::<project>::<qualified type>::<name>; a child's qualified type appends its own.
            prefix, qualified_type, _ = parent.rsplit("::", 2)
            return f"{prefix}::{qualified_type}${type_}::{child(self.name, suffix)}"
        return MovedFrom(urn=pulumi.Output.from_input(self.urn).apply(urn), name=child(self.name, suffix),
                         parent_urn=self.urn)


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
                    provider: pulumi.ProviderResource | None = None,
                    aliases: Sequence[pulumi.Alias] = ()) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor in the workload's namespace selecting exactly `match_labels` there.

    `depends_on` should name what creates the Service (a Helm release); the CRDs come from `refs`."""
    return k8s.apiextensions.CustomResource(
        child(name, "servicemonitor"), api_version=MONITORING_API, kind="ServiceMonitor",
        metadata={"name": object_name, "namespace": namespace, "labels": dict(PART_OF)},
        spec={"selector": {"matchLabels": dict(match_labels)},
              "namespaceSelector": {"matchNames": [namespace]},
              "endpoints": [{"port": e.port, "path": e.path, "interval": e.interval, "honorLabels": e.honor_labels}
                            for e in endpoints]},
        opts=_with_aliases(child_options(owner, depends_on=[*refs.crd_dependencies, *depends_on], provider=provider),
                           aliases))


def prometheus_rule(owner: pulumi.Resource, name: str, refs: MonitoringRefs, *, object_name: str,
                    namespace: pulumi.Input[str], groups: Sequence[RuleGroup],
                    provider: pulumi.ProviderResource | None = None,
                    aliases: Sequence[pulumi.Alias] = ()) -> k8s.apiextensions.CustomResource:
    """A PrometheusRule holding `groups` (render them with `rule_file` to check them with promtool)."""
    return k8s.apiextensions.CustomResource(
        child(name, "rules"), api_version=MONITORING_API, kind="PrometheusRule",
        metadata={"name": object_name, "namespace": namespace, "labels": dict(PART_OF)},
        spec=rule_file(groups),
        opts=_with_aliases(child_options(owner, depends_on=refs.crd_dependencies, provider=provider), aliases))


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
              board: Mapping[str, Any], provider: pulumi.ProviderResource | None = None,
              aliases: Sequence[pulumi.Alias] = ()) -> k8s.core.v1.ConfigMap:
    """A Grafana dashboard as a ConfigMap the Grafana sidecar loads (any namespace, label `grafana_dashboard`)."""
    return k8s.core.v1.ConfigMap(
        child(name, f"dashboard-{uid}"),
        metadata={"name": child(name, uid)[:63].rstrip("-"), "namespace": namespace,
                  "labels": {**DASHBOARD_LABEL, **PART_OF}},
        data={f"{uid}.json": json.dumps(dict(board), sort_keys=True)},
        opts=_with_aliases(child_options(owner, provider=provider), aliases))


def _with_aliases(opts: pulumi.ResourceOptions, aliases: Sequence[pulumi.Alias]) -> pulumi.ResourceOptions:
    """`aliases`: the resource's earlier addresses (a moved resource keeps its URN)."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=list(aliases))) if aliases else opts
