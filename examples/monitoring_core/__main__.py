"""MonitoringCore alone on a platform stack's cluster (read through a StackReference) that runs no monitoring, and
one contribution: the cluster's own rules and dashboards (ClusterObservability), built on the core's MonitoringRefs.
A cluster runs one MonitoringCore (kube-prometheus-stack's cluster-scoped objects, node-exporter's host port): on a
cluster whose platform lists `monitoring` in its `clusterAddOns` output, MonitoringCore refuses to plan."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, cluster_provider
from mlops_infra.compute.observability import ClusterObservability, ClusterObservabilityArgs
from mlops_infra.observability.core import MonitoringCore, MonitoringCoreArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `monitoring`
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # what the cluster runs: the platform's outputs
name = f"{config.name}-{config.environment}"
core = MonitoringCore(f"{name}-monitoring", MonitoringCoreArgs(
    config=config.monitoring, cluster=cluster, region=config.region, tags=config.resource_tags,
    protect=config.protect_stateful))
ClusterObservability(f"{name}-cluster-observability", ClusterObservabilityArgs(
    monitoring=core.refs, tags=config.resource_tags, cluster=cluster, gpu=False, ml_namespaces=["search"]))
pulumi.export("alertTopicArn", core.alert_topic_arn)
pulumi.export("pushgatewayUrl", core.pushgateway_url)
