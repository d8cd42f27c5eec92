"""The cluster's own observability: GPU and node alerts, the GPU-cluster and training-jobs dashboards, and the
CloudWatch alarms on what Prometheus cannot see (failed EKS nodes, NAT port exhaustion of the nodes' egress).

The GPU series come from the DCGM exporter the monitoring core runs on every GPU node (observability/core.py:
its counters are `exporter_metrics.DCGM_COUNTERS`). The rule and dashboard builders are pure; `ClusterObservability`
is built after the monitoring core, beside the cluster it watches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ..blocks.naming import child
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import ClusterRefs
from ..observability.cloudwatch_alarms import CloudWatchAlarms, CloudWatchAlarmsArgs
from ..observability.config import ThresholdsConfig
from ..observability.contribution import add_dashboard, add_rules, thresholds_of
from ..observability.dashboards import Dashboard, Panel, Uses
from ..observability.exporter_metrics import TEAM_METRIC_LABEL, Exporter
from ..observability.monitoring_rules import AlertRule, RuleGroup, check_names

XID_WINDOW = "10m"
"""How long GpuXidError keeps firing after the XID gauge last changed."""


def gpu_rules(t: ThresholdsConfig) -> RuleGroup:
    used, free, xid = "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_XID_ERRORS"
    return RuleGroup("mlops-gpu", (
        AlertRule(
            "GpuIdle",
            # A GPU allocated to a pod (the exporter sets pod; Prometheus keeps it as exported_pod) that does nothing.
            f'avg by (Hostname, gpu, exported_namespace, exported_pod) (DCGM_FI_DEV_GPU_UTIL{{exported_pod!=""}}) '
            f"< {t.gpu_idle_percent:g}",
            f"{t.gpu_idle_minutes}m", "warning",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} held by {{ $labels.exported_namespace }}/"
            "{{ $labels.exported_pod }} is idle",
            (("DCGM_FI_DEV_GPU_UTIL", "dcgm-exporter"),),
            f"Utilization under {t.gpu_idle_percent:g}% for {t.gpu_idle_minutes} minutes while allocated to a pod."),
        AlertRule(
            "GpuMemoryNearFull",
            f"100 * {used} / ({used} + {free}) > {t.gpu_memory_percent:g}",
            "10m", "warning",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} framebuffer is {{ $value | humanize }}% used",
            ((used, "dcgm-exporter"), (free, "dcgm-exporter")),
            f"Framebuffer above {t.gpu_memory_percent:g}%: the next allocation will fail with out-of-memory."),
        AlertRule(
            "GpuXidError",
            # DCGM_FI_DEV_XID_ERRORS is a gauge holding the *last* XID (etc/default-counters.csv, tag 4.5.1-4.8.0):
            # after one fault it stays at that value for good, so `> 0` alone would fire forever. Fire while the
            # value changed within the window (`and` keeps the XID as the alert's value), then resolve. A repeat of
            # the same XID leaves the gauge unchanged and is not seen (DCGM_EXP_XID_ERRORS_COUNT would count it, but
            # it is an opt-in collector, commented out in the upstream counters list).
            f"{xid} > 0 and changes({xid}[{XID_WINDOW}]) > 0",
            "0m", "critical",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID {{ $value }}",
            ((xid, "dcgm-exporter"),),
            "An XID is a driver-reported GPU fault; drain the node and check the XID catalog."),
    ))


def ml_namespace_selector(ml_namespaces: Sequence[str]) -> str:
    """One `kube_namespace_labels` series per ML namespace: those named (teams, MLflow, Feast) and every namespace
    labelled `mlops.io/team` (platform teams and team workspaces, which other stacks create). kube-state-metrics
    exposes that label as `label_mlops_io_team` because MonitoringCore allow-lists it (KSM_NAMESPACE_LABELS)."""
    named = "|".join(sorted(set(ml_namespaces)))
    return f'(kube_namespace_labels{{namespace=~"{named}"}} or kube_namespace_labels{{{TEAM_METRIC_LABEL}!=""}})'


def cluster_rules() -> RuleGroup:
    """NodeNotReady. No crash-loop rule: kube-prometheus-stack's own KubePodCrashLooping (its `kubernetes-apps`
    default rules, on in MonitoringCore's values) already watches every namespace through kube-state-metrics, add-on
    namespaces (LakeFS, Qdrant, Airflow, serving...) included. A rule of ours over the ML namespaces paged twice for
    those and never for the rest (tests/observability/test_crash_loop_coverage.py)."""
    return RuleGroup("mlops-cluster", (AlertRule(
        "NodeNotReady",
        'kube_node_status_condition{condition="Ready",status="true"} == 0',
        "5m", "critical", "Node {{ $labels.node }} is not Ready",
        (("kube_node_status_condition", "kube-state-metrics"),)),))


def gpu_dashboard() -> Dashboard:
    util: Uses = (("DCGM_FI_DEV_GPU_UTIL", "dcgm-exporter"),)
    fb: Uses = (("DCGM_FI_DEV_FB_USED", "dcgm-exporter"), ("DCGM_FI_DEV_FB_FREE", "dcgm-exporter"))
    return Dashboard("mlops-gpu-cluster", "GPU cluster", (
        Panel("GPU utilization by node", "avg by (Hostname) (DCGM_FI_DEV_GPU_UTIL)", util, "percent", "{{Hostname}}"),
        Panel("GPUs allocated to pods", 'count(DCGM_FI_DEV_GPU_UTIL{exported_pod!=""}) or vector(0)', util),
        Panel("GPUs in the cluster", "count(DCGM_FI_DEV_GPU_UTIL) or vector(0)", util),
        Panel("Framebuffer used", "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)", fb,
              "percent", "{{Hostname}} gpu {{gpu}}"),
        Panel("GPU temperature", "DCGM_FI_DEV_GPU_TEMP", (("DCGM_FI_DEV_GPU_TEMP", "dcgm-exporter"),), "celsius",
              "{{Hostname}} gpu {{gpu}}"),
        Panel("Power draw", "sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)", (("DCGM_FI_DEV_POWER_USAGE", "dcgm-exporter"),),
              "watt", "{{Hostname}}"),
        Panel("Last XID error", "max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS)",
              (("DCGM_FI_DEV_XID_ERRORS", "dcgm-exporter"),), "short", "{{Hostname}} gpu {{gpu}}"),
        Panel("Nodes not Ready", 'sum(kube_node_status_condition{condition="Ready",status="true"} == 0) or vector(0)',
              (("kube_node_status_condition", "kube-state-metrics"),)),
    ))


def training_jobs_dashboard(ml_namespaces: Sequence[str]) -> Dashboard:
    """Per-namespace job panels over the ML namespaces (`ml_namespace_selector`: named or labelled mlops.io/team);
    every namespace when none is named."""
    check_names(ml_namespaces)
    sel = ml_namespace_selector(ml_namespaces) if ml_namespaces else None

    def ml(series: str, on: str = "namespace") -> str:
        if sel is None:
            return f"({series})"
        if on == "namespace":
            return f"({series} and on(namespace) {sel})"
        # DCGM's workload label: the namespace series renamed to it.
        return f'({series} and on({on}) label_replace({sel}, "{on}", "$1", "namespace", "(.+)"))'

    def uses(metric: str, exporter: Exporter) -> Uses:
        return ((metric, exporter), *((("kube_namespace_labels", "kube-state-metrics"),) if sel else ()))

    return Dashboard("mlops-training-jobs", "Training jobs", (
        Panel("Active jobs", f"sum by (namespace) {ml('kube_job_status_active')}",
              uses("kube_job_status_active", "kube-state-metrics"), "short", "{{namespace}}"),
        Panel("Failed jobs", "sum by (namespace) " + ml('kube_job_failed{condition="true"}'),
              uses("kube_job_failed", "kube-state-metrics"), "short", "{{namespace}}"),
        Panel("GPUs requested",
              "sum by (namespace) " + ml('kube_pod_container_resource_requests{resource="nvidia_com_gpu"}'),
              uses("kube_pod_container_resource_requests", "kube-state-metrics"), "short", "{{namespace}}"),
        Panel("GPU utilization by workload",
              f"avg by (exported_namespace, exported_pod) {ml('DCGM_FI_DEV_GPU_UTIL', 'exported_namespace')}",
              uses("DCGM_FI_DEV_GPU_UTIL", "dcgm-exporter"), "percent", "{{exported_namespace}}/{{exported_pod}}"),
        Panel("Container restarts (1h)",
              f"sum by (namespace, pod) {ml('increase(kube_pod_container_status_restarts_total[1h])')}",
              uses("kube_pod_container_status_restarts_total", "kube-state-metrics"), "short", "{{namespace}}/{{pod}}"),
    ))


@dataclass(frozen=True)
class ClusterObservabilityArgs:
    monitoring: MonitoringRefs
    tags: dict[str, str]
    cluster: ClusterRefs
    """The cluster the rules and dashboards are created in; every Kubernetes child binds to its provider."""
    ml_namespaces: Sequence[str] = ()
    """Namespaces of ML workloads (teams, MLflow, Feast): the training-jobs dashboard's panels. Default: none (the
    dashboard shows every namespace)."""
    gpu: bool = True
    """The cluster has GPU capacity: GPU alerts and the GPU dashboard. Default: true."""
    container_insights_cluster: pulumi.Input[str] | None = None
    """EKS cluster that runs the amazon-cloudwatch-observability add-on: failed-node alarm. Default: none."""
    nat_gateway_ids: Sequence[pulumi.Input[str]] = ()
    """NAT gateways of the nodes' egress: port-allocation alarms. Default: none."""


class ClusterObservability(pulumi.ComponentResource):
    """The cluster's rules, dashboards and CloudWatch alarms, contributed to a monitoring core."""

    def __init__(self, name: str, args: ClusterObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:compute:ClusterObservability", name, None, args.cluster.bind(opts))
        refs, t = args.monitoring, thresholds_of(args.monitoring)
        add_rules(self, child(name, "cluster"), refs, cluster_rules(), moved="mlops-cluster")
        add_dashboard(self, name, refs, training_jobs_dashboard(args.ml_namespaces), moved="mlops-training-jobs")
        if args.gpu:
            add_rules(self, child(name, "gpu"), refs, gpu_rules(t), moved="mlops-gpu")
            add_dashboard(self, name, refs, gpu_dashboard(), moved="mlops-gpu-cluster")
        self.alarms: CloudWatchAlarms | None = None
        if refs.alert_topic_arn is not None:
            moved = refs.moved_from.child(CloudWatchAlarms.RELEASED_TYPE, "cloudwatch") if refs.moved_from else None
            self.alarms = CloudWatchAlarms(child(name, "alarms"), CloudWatchAlarmsArgs(
                topic_arn=refs.alert_topic_arn, thresholds=t, tags=args.tags, nat_gateway_ids=args.nat_gateway_ids,
                # Only the add-on's CloudWatch agent emits the failed-node metric: without it the alarm would sit
                # in INSUFFICIENT_DATA forever.
                container_insights_cluster=args.container_insights_cluster, moved_from=moved),
                pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
