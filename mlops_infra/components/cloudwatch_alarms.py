"""CloudWatchAlarms: AWS-side alarms on what Prometheus cannot see (RDS, DynamoDB, NAT gateways, EKS node health),
all sent to the alert topic, plus the Container Insights log groups, encrypted and with a retention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks.kms import KmsKey
from ..blocks.naming import child, opts
from ..config.monitoring import ThresholdsConfig

GIB = 1024**3
CONTAINER_INSIGHTS_LOG_TYPES = ("application", "dataplane", "host", "performance")
"""The log groups the CloudWatch observability agent writes (`/aws/containerinsights/<cluster>/<type>`)."""


@dataclass(frozen=True)
class CloudWatchAlarmsArgs:
    topic_arn: pulumi.Input[str]
    thresholds: ThresholdsConfig
    kms_key: KmsKey
    """Encrypts the log groups; its policy must let `logs.<region>.amazonaws.com` use it."""
    log_retention_days: int
    tags: dict[str, str]
    protect: bool = False
    """Pulumi `protect` + `retain_on_delete` (and deletion protection) on the log groups. Default: false."""
    rds_instance_id: pulumi.Input[str] | None = None
    """RDS instance identifier: CPU, free storage and connection alarms. Default: none (no RDS alarms)."""
    dynamodb_table_names: Sequence[pulumi.Input[str]] = ()
    """Tables to alarm on read and write throttles. Default: none."""
    nat_gateway_ids: Sequence[pulumi.Input[str]] = ()
    """NAT gateways to alarm on port-allocation errors. Default: none."""
    cluster_name: pulumi.Input[str] | None = None
    """EKS cluster: failed-node alarm (Container Insights) and its log groups. Default: none."""


class CloudWatchAlarms(pulumi.ComponentResource):
    alarm_names: list[str]
    """Logical names of the alarms created (what the platform has)."""

    def __init__(self, name: str, args: CloudWatchAlarmsArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:cloudwatch_alarms:CloudWatchAlarms", name, None, opts_)
        self._name, self._args = name, args
        self.alarm_names = []
        t = args.thresholds
        if args.rds_instance_id is not None:
            rds = {"DBInstanceIdentifier": args.rds_instance_id}
            self._alarm("rds-cpu", "AWS/RDS", "CPUUtilization", rds, "Average", "GreaterThanThreshold",
                        t.rds_cpu_percent, periods=3, description=f"RDS CPU above {t.rds_cpu_percent:g}% for 15 minutes")
            self._alarm("rds-free-storage", "AWS/RDS", "FreeStorageSpace", rds, "Minimum", "LessThanThreshold",
                        t.rds_free_storage_gib * GIB, description=f"RDS free storage under {t.rds_free_storage_gib} GiB")
            self._alarm("rds-connections", "AWS/RDS", "DatabaseConnections", rds, "Maximum", "GreaterThanThreshold",
                        t.rds_max_connections, periods=2,
                        description=f"RDS connections above {t.rds_max_connections}")
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
        if args.cluster_name is not None:
            self._alarm("eks-failed-nodes", "ContainerInsights", "cluster_failed_node_count",
                        {"ClusterName": args.cluster_name}, "Maximum", "GreaterThanThreshold", 0, periods=2,
                        description="EKS nodes failing (Container Insights)")
            for log_type in CONTAINER_INSIGHTS_LOG_TYPES:
                aws.cloudwatch.LogGroup(
                    child(name, f"insights-{log_type}"),
                    name=pulumi.Output.concat("/aws/containerinsights/", args.cluster_name, f"/{log_type}"),
                    retention_in_days=args.log_retention_days,
                    kms_key_id=args.kms_key.arn,
                    deletion_protection_enabled=args.protect,
                    tags=args.tags,
                    opts=opts(self, stateful=True, protect=args.protect))
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
            opts=opts(self))
