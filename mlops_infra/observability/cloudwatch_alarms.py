"""CloudWatchAlarms: AWS-side alarms on what Prometheus cannot see (RDS, DynamoDB, NAT gateways, EKS node health),
all sent to the alert topic.

The failed-node alarm reads `ContainerInsights/cluster_failed_node_count`, which only the CloudWatch agent of the
amazon-cloudwatch-observability add-on emits (as performance log events in `/aws/containerinsights/<cluster>/
performance`; CloudWatch user guide, "Amazon EKS and Kubernetes Container Insights metrics"). It is created only for
a cluster that runs that add-on; the add-on's log groups belong to the cluster that installs it."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..blocks.naming import child, child_options, retyped
from ..blocks.observability import MovedFrom
from ..blocks.postgres import RDS_ALARMS, DatabaseAlarms, rds_alarms
from .config import ThresholdsConfig


@dataclass(frozen=True)
class CloudWatchAlarmsArgs:
    topic_arn: pulumi.Input[str]
    thresholds: ThresholdsConfig
    tags: dict[str, str]
    rds_instance_id: pulumi.Input[str] | None = None
    """RDS instance identifier: CPU, free storage and connection alarms. Default: none (no RDS alarms)."""
    extra_rds_instances: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """More RDS instance identifiers by label (e.g. `feast-registry`): the same three alarms, named
    `rds-<label>-cpu` and so on. Default: none."""
    dynamodb_table_names: Sequence[pulumi.Input[str]] = ()
    """Tables to alarm on read and write throttles. Default: none."""
    nat_gateway_ids: Sequence[pulumi.Input[str]] = ()
    """NAT gateways to alarm on port-allocation errors. Default: none."""
    container_insights_cluster: pulumi.Input[str] | None = None
    """EKS cluster that runs the amazon-cloudwatch-observability add-on: failed-node alarm. Default: none (no
    alarm; without the agent its metric never exists)."""
    moved_from: MovedFrom | None = None
    """The CloudWatchAlarms these alarms were children of before (the platform's old MonitoringStack had them): the
    component and each alarm alias to their old names there, so the alarms are kept, not replaced. Default: none."""


class CloudWatchAlarms(pulumi.ComponentResource):
    """CloudWatch alarms, each notifying the alert topic."""
    TYPE = "mlops:observability:CloudWatchAlarms"
    RELEASED_TYPE = "mlops:cloudwatch_alarms:CloudWatchAlarms"
    """The token released stacks hold (aliased), and the type the old MonitoringStack's alarms had."""
    alarm_names: list[str]
    """Logical names of the alarms created (what the platform has)."""

    def __init__(self, name: str, args: CloudWatchAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        moved = args.moved_from
        if moved is not None and moved.parent_urn is not None:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[
                pulumi.Alias(name=moved.name, parent=moved.parent_urn, type_=self.RELEASED_TYPE)]))
        super().__init__(self.TYPE, name, None, retyped(opts, self.RELEASED_TYPE))
        self._name, self._args = name, args
        self.alarm_names = []
        t = args.thresholds
        rds_instances = {**({"rds": args.rds_instance_id} if args.rds_instance_id is not None else {}),
                         **{f"rds-{label}": db for label, db in args.extra_rds_instances.items()}}
        db_alarms = DatabaseAlarms(topic_arn=args.topic_arn, cpu_percent=t.rds_cpu_percent,
                                   free_storage_gib=t.rds_free_storage_gib, max_connections=t.rds_max_connections,
                                   tags=args.tags)
        for prefix, db in rds_instances.items():  # the Postgres block's alarm set, under the names released here
            self.alarm_names += [child(self._name, f"{prefix}-{a.suffix}") for a in RDS_ALARMS]
            rds_alarms(child(self._name, prefix), db, db_alarms, functools.partial(self._rds_options, prefix))
        for i, table in enumerate(args.dynamodb_table_names):
            for op in ("Read", "Write"):
                # Throttle metrics are only published when throttling happens: missing data is good news.
                self._alarm(f"dynamodb-{i}-{op.lower()}-throttles", "AWS/DynamoDB", f"{op}ThrottleEvents",
                            {"TableName": table}, "Sum", "GreaterThanThreshold", 0, missing="notBreaching",
                            description=f"DynamoDB {op.lower()} requests throttled")
        for i, nat in enumerate(args.nat_gateway_ids):
            self._alarm(f"nat-{i}-port-allocation-errors", "AWS/NATGateway", "ErrorPortAllocation",
                        {"NatGatewayId": nat}, "Sum", "GreaterThanThreshold", 0, missing="notBreaching",
                        description="NAT gateway could not allocate a source port (connections dropped)")
        if args.container_insights_cluster is not None:
            self._alarm("eks-failed-nodes", "ContainerInsights", "cluster_failed_node_count",
                        {"ClusterName": args.container_insights_cluster}, "Maximum", "GreaterThanThreshold", 0,
                        periods=2, description="EKS nodes failing (Container Insights)")
        self.register_outputs({"alarmCount": len(self.alarm_names)})

    def _alarm(self, suffix: str, namespace: str, metric: str, dimensions: dict[str, pulumi.Input[str]], statistic: str,
               comparison: str, threshold: float, *, periods: int = 1, missing: str = "missing",
               description: str) -> aws.cloudwatch.MetricAlarm:
        args = self._args
        self.alarm_names.append(child(self._name, suffix))
        return aws.cloudwatch.MetricAlarm(
            child(self._name, suffix),
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=300,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=comparison,
            threshold=threshold,
            treat_missing_data=missing,
            alarm_actions=[args.topic_arn],
            ok_actions=[args.topic_arn],
            tags=args.tags,
            opts=self._options(suffix))

    def _rds_options(self, prefix: str, suffix: str) -> pulumi.ResourceOptions:
        return self._options(f"{prefix}-{suffix}")

    def _options(self, suffix: str) -> pulumi.ResourceOptions:
        """A child's options; an alarm that moved out of the old MonitoringStack aliases its old name there."""
        opts = child_options(self)
        moved = self._args.moved_from
        if moved is not None:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[moved.alias(suffix)]))
        return opts

