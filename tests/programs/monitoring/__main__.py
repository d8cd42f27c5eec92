"""MonitoringStack alone, with literal refs: the subject of tests/observability/test_monitoring*.py.

Stack `full`: prod profile, IRSA, Slack + PagerDuty + email + HTTPS receivers, Managed Prometheus, every CloudWatch
input, a cluster with Container Insights.
Stack `minimal`: dev profile, Pod Identity, no receivers, the cluster owns the namespace, no RDS/DynamoDB/NAT, no
Container Insights.
Stack `nosecret`: a Slack receiver whose webhook value the program forgets to pass (the component refuses).
Stack `badconfig`: invalid monitoring config (fails before anything is registered).
"""

import pulumi
import pulumi_kubernetes as k8s

from mlops_infra.blocks.identity import ClusterIdentity
from mlops_infra.blocks.refs import ClusterRefs
from mlops_infra.observability.monitoring import MonitoringStack, MonitoringStackArgs
from mlops_infra.observability.monitoring_rules import CronJobTarget, MonitoredTargets, ScrapeTarget
from mlops_infra.stack import read_platform_config, secret_config

config = read_platform_config()
mon = config.monitoring
variant = pulumi.Config("test").get("variant")
full = variant == "full"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"

identity = (ClusterIdentity(cluster_name="mlops-test", mode="irsa",
                            oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}", oidc_issuer=ISSUER)
            if full else ClusterIdentity(cluster_name="mlops-test", mode="podIdentity"))
cluster = ClusterRefs(
    name="mlops-test", identity=identity, cluster_security_group_id="sg-0123456789abcdef0", version="1.35",
    namespaces={} if full else {"monitoring": "monitoring"}, container_insights=full,
    storage_classes=["gp3"] if variant != "nostorageclass" else ["standard"])
provider = k8s.Provider("k8s", kubeconfig="{}")

recv = mon.receivers
stack = MonitoringStack(f"mlops-{config.environment}-monitoring", MonitoringStackArgs(
    config=mon,
    cluster=cluster,
    region=config.region,
    tags=config.resource_tags,
    protect=config.protect_stateful,
    slack_webhook_url=secret_config(recv.slack_webhook_secret) if recv.slack_webhook_secret and variant != "nosecret"
    else None,
    pagerduty_routing_key=secret_config(recv.pagerduty_key_secret) if recv.pagerduty_key_secret else None,
    targets=MonitoredTargets(
        ml_namespaces=["research", "ranking", "mlflow", "feast"],
        model_registry=ScrapeTarget("mlflow", "mlflow"),
        feature_server=ScrapeTarget("feast", "feast-feature-server"),
        materialization=CronJobTarget("feast", "feast-materialize"),
    ) if full else MonitoredTargets(),
    gpu_taint_keys=["nvidia.com/gpu", "example.com/dedicated"] if full else ["nvidia.com/gpu"],
    gpu_instance_types=["p5.48xlarge", "g6e.12xlarge"] if full else [],
    rds_instance_id="mlops-prod-mlflow" if full else None,
    nat_gateway_ids=["nat-0aaaaaaaaaaaaaaa1", "nat-0aaaaaaaaaaaaaaa2"] if full else [],
), pulumi.ResourceOptions(providers=[provider]))

if full:  # a data store built after the stack, as the platform does with the feature store's tables
    stack.add_data_store_alarms(dynamodb_table_names=["mlops-prod-online"])

pulumi.export("alertTopicArn", stack.alert_topic_arn)
pulumi.export("namespace", stack.namespace)
pulumi.export("prometheusReleaseStatus", stack.prometheus_release.status)
pulumi.export("grafanaAdminSecretName", stack.grafana_admin_secret_name)
pulumi.export("pushgatewayUrl", stack.pushgateway_url)
if stack.managed_prometheus_workspace_arn is not None:
    pulumi.export("managedPrometheusWorkspaceArn", stack.managed_prometheus_workspace_arn)
