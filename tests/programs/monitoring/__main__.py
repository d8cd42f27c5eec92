"""MonitoringCore alone, with literal refs, and each concern's contribution built on its refs: the subject of
tests/observability/test_monitoring*.py.

Stack `full`: prod profile, IRSA, Slack + PagerDuty + email + HTTPS receivers, Managed Prometheus, a cluster with
Container Insights; the cluster, model registry and feature store contribute every rule, dashboard and alarm the
library defines (a feature server target too, which the platform does not render yet).
Stack `minimal`: dev profile, Pod Identity, no receivers, the cluster owns the namespace; only the cluster
contributes (no NAT, no Container Insights, no GPU).
Stack `nosecret`: a Slack receiver whose webhook value the program forgets to pass (the component refuses).
Stack `badconfig`: invalid monitoring config (fails before anything is registered).
"""

import pulumi
import pulumi_kubernetes as k8s

from mlops_infra.blocks.identity import ClusterIdentity
from mlops_infra.blocks.refs import ClusterRefs
from mlops_infra.compute.observability import ClusterObservability, ClusterObservabilityArgs
from mlops_infra.features.observability import FeatureStoreObservability, FeatureStoreObservabilityArgs
from mlops_infra.observability.core import MonitoringCore, MonitoringCoreArgs
from mlops_infra.observability.monitoring_rules import CronJobTarget, ScrapeTarget
from mlops_infra.registry.observability import ModelRegistryObservability, ModelRegistryObservabilityArgs
from mlops_infra.stack import read_platform_config, secret_config

config = read_platform_config()
mon = config.monitoring
variant = pulumi.Config("test").get("variant")
full = variant == "full"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PREFIX = f"mlops-{config.environment}"

identity = (ClusterIdentity(cluster_name="mlops-test", mode="irsa",
                            oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}", oidc_issuer=ISSUER)
            if full else ClusterIdentity(cluster_name="mlops-test", mode="podIdentity"))
provider = k8s.Provider("k8s", kubeconfig="{}")
cluster = ClusterRefs(
    name="mlops-test", identity=identity, provider=provider, cluster_security_group_id="sg-0123456789abcdef0", version="1.35",
    namespaces={} if full else {"monitoring": "monitoring"}, container_insights=full,
    storage_classes=["gp3"] if variant != "nostorageclass" else ["standard"])
opts = pulumi.ResourceOptions()  # every component binds to `cluster.provider` itself

recv = mon.receivers
core = MonitoringCore(f"{PREFIX}-monitoring", MonitoringCoreArgs(
    config=mon,
    cluster=cluster,
    region=config.region,
    tags=config.resource_tags,
    protect=config.protect_stateful,
    slack_webhook_url=secret_config(recv.slack_webhook_secret) if recv.slack_webhook_secret and variant != "nosecret"
    else None,
    pagerduty_routing_key=secret_config(recv.pagerduty_key_secret) if recv.pagerduty_key_secret else None,
    heartbeat_url=secret_config(recv.heartbeat_url_secret) if recv.heartbeat_url_secret else None,
    gpu_taint_keys=["nvidia.com/gpu", "example.com/dedicated"] if full else ["nvidia.com/gpu"],
    gpu_nodes_only=full,
), opts)
refs = core.refs

ClusterObservability(f"{PREFIX}-cluster-observability", ClusterObservabilityArgs(
    monitoring=refs, tags=config.resource_tags, cluster=cluster, gpu=full,
    ml_namespaces=["research", "ranking", "mlflow", "feast"] if full else [],
    container_insights_cluster=cluster.name if cluster.container_insights else None,
    nat_gateway_ids=["nat-0aaaaaaaaaaaaaaa1", "nat-0aaaaaaaaaaaaaaa2"] if full else []), opts)
if full:
    ModelRegistryObservability(f"{PREFIX}-registry-observability", ModelRegistryObservabilityArgs(
        monitoring=refs, tags=config.resource_tags, cluster=cluster, server=ScrapeTarget("mlflow", "mlflow"),
        database_instance_id="mlops-prod-mlflow"), opts)
    FeatureStoreObservability(f"{PREFIX}-features-observability", FeatureStoreObservabilityArgs(
        monitoring=refs, tags=config.resource_tags, cluster=cluster, materialization=CronJobTarget("feast", "feast-materialize"),
        server=ScrapeTarget("feast", "feast-feature-server"), table_names=["mlops-prod-online"],
        registry_instance_id="mlops-prod-feast-registry"), opts)

pulumi.export("alertTopicArn", core.alert_topic_arn)
pulumi.export("namespace", core.namespace)
pulumi.export("prometheusReleaseStatus", core.prometheus_release.status)
pulumi.export("grafanaAdminSecretName", core.grafana_admin_secret_name)
pulumi.export("pushgatewayUrl", core.pushgateway_url)
if core.managed_prometheus_workspace_arn is not None:
    pulumi.export("managedPrometheusWorkspaceArn", core.managed_prometheus_workspace_arn)
