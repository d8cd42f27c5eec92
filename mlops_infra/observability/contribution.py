"""What the concerns' observability components share: their pure rule groups and dashboards rendered into a
PrometheusRule and Grafana ConfigMaps beside the monitoring core, and their CloudWatch alarms on its topic.

A component contributes only when it is given `MonitoringRefs` (None: nothing). A resource that moved out of the
platform's old MonitoringStack names its old suffix there (`moved`): with `refs.moved_from` set it aliases to its
old address, so `pulumi up` keeps it (URN) instead of deleting and recreating it.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import observability as blocks
from ..blocks.naming import child, truncate_name
from ..blocks.observability import MonitoringRefs
from ..blocks.postgres import DatabaseAlarms
from .config import ThresholdsConfig
from .dashboards import Dashboard, render
from .monitoring_rules import RuleGroup, rule_dicts


def thresholds_of(refs: MonitoringRefs) -> ThresholdsConfig:
    """The thresholds the core handed over, or the defaults."""
    if refs.thresholds is None:
        return ThresholdsConfig()
    if not isinstance(refs.thresholds, ThresholdsConfig):
        raise TypeError(f"MonitoringRefs.thresholds must be a ThresholdsConfig, not {type(refs.thresholds).__name__}")
    return refs.thresholds


def moved_aliases(refs: MonitoringRefs, suffix: str | None) -> list[pulumi.Alias]:
    """The old address of the MonitoringStack's child `suffix`, when this platform had one."""
    return [refs.moved_from.alias(suffix)] if refs.moved_from is not None and suffix else []


def add_rules(owner: pulumi.Resource, name: str, refs: MonitoringRefs, group: RuleGroup, *,
              moved: str | None = None) -> k8s.apiextensions.CustomResource | None:
    """One PrometheusRule `<name>-rules` in the monitoring namespace holding `group` (None if it has no rule)."""
    if not group.rules:
        return None
    return blocks.prometheus_rule(
        owner, name, refs, object_name=truncate_name(child(name, "rules")), namespace=refs.namespace,
        groups=[blocks.RuleGroup(group.name, rule_dicts(group))], aliases=moved_aliases(refs, moved))


def add_dashboard(owner: pulumi.Resource, name: str, refs: MonitoringRefs, board: Dashboard, *,
                  moved: str | None = None) -> k8s.core.v1.ConfigMap:
    """The dashboard as a ConfigMap Grafana's sidecar loads, in the monitoring namespace."""
    return blocks.dashboard(owner, name, uid=board.uid, namespace=refs.namespace, board=render(board),
                            aliases=moved_aliases(refs, moved))


def database_alarms(refs: MonitoringRefs | None, tags: dict[str, str]) -> DatabaseAlarms | None:
    """The Postgres block's alarms on the core's topic with its thresholds (None: no monitoring or no topic)."""
    if refs is None or refs.alert_topic_arn is None:
        return None
    t = thresholds_of(refs)
    return DatabaseAlarms(topic_arn=refs.alert_topic_arn, cpu_percent=t.rds_cpu_percent,
                          free_storage_gib=t.rds_free_storage_gib, max_connections=t.rds_max_connections, tags=tags)
