"""ModelRegistry with literal refs, driven by the stack's `mlops:platform` config (profiles apply)."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_infra.blocks.identity import ClusterIdentity
from mlops_infra.blocks.observability import MonitoringRefs
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs
from mlops_infra.registry.mlflow_registry import MlflowRegistry
from mlops_infra.registry.model_registry import ModelRegistry, ModelRegistryArgs, ModelRegistryLike
from mlops_infra.registry.sagemaker_registry import SageMakerRegistry
from mlops_infra.stack import read_platform_config, secret_config

config = read_platform_config()
reg, mlflow = config.model_registry, config.mlflow
extra = pulumi.Config("test")
network = NetworkRefs(vpc_id="vpc-0abc", vpc_cidr="10.0.0.0/16",
                      private_subnet_ids=["subnet-a", "subnet-b", "subnet-c"])
identity = ClusterIdentity(
    cluster_name="mlops-test", mode="irsa",
    oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
    oidc_issuer="oidc.eks.us-east-1.amazonaws.com/id/ABC")
provider = k8s.Provider("eks", kubeconfig="{}")
cluster = ClusterRefs(name="mlops-test", identity=identity, cluster_security_group_id="sg-cluster", version="1.35",
                      provider=provider,
                      namespaces={"mlflow": "mlflow"} if extra.get_bool("namespaceFromCluster") else {},
                      # test:controllerMissing: refs of a cluster (e.g. another stack's) that runs no controller.
                      load_balancer_controller=config.cluster.load_balancer_controller
                      and not extra.get_bool("controllerMissing"))
monitoring_release = k8s.helm.v3.Release(
    "kube-prometheus-stack", chart="kube-prometheus-stack", version="82.1.0", namespace="monitoring",
    repository_opts={"repo": "https://prometheus-community.github.io/helm-charts"},
    opts=pulumi.ResourceOptions(provider=provider))

registry = ModelRegistry(f"{config.name}-{config.environment}-registry", ModelRegistryArgs(
    config=reg, tags=config.resource_tags, network=network, cluster=cluster, protect=config.protect_stateful,
    # A monitoring core's refs as another stack would hand them over (namespace, CRDs, alert topic).
    monitoring=MonitoringRefs(namespace="monitoring", prometheus_namespace="monitoring",
                              crd_dependencies=[monitoring_release],
                              alert_topic_arn="arn:aws:sns:us-east-1:123456789012:alerts")
    if config.monitoring.enabled else None,
    service_monitor_labels={"release": "kube-prometheus-stack"},
    oidc_client_secret=secret_config(mlflow.ingress.oidc_client_secret)
    if mlflow and mlflow.ingress.oidc_client_secret else None,
    name_prefix=f"{config.name}-{config.environment}",
    client_namespaces=["training", "features"], team_namespaces=["training"]))

# Either engine is a ModelRegistryLike: every member of the Protocol is set (log_models_policy before any grant).
assert isinstance(registry, ModelRegistryLike), registry
trust = '{"Version":"2012-10-17","Statement":[]}'
trainer = aws.iam.Role("trainer", assume_role_policy=trust)
server = aws.iam.Role("server", assume_role_policy=trust)
registry.grant_log_models(trainer)
registry.grant_read_models(server)

pulumi.export("artifactBucketName", registry.artifact_bucket_name)
if isinstance(registry, MlflowRegistry):
    pulumi.export("trackingUri", registry.tracking_uri)
    pulumi.export("databaseEndpoint", registry.database_endpoint)
    pulumi.export("databaseAddress", registry.database_address)
if isinstance(registry, SageMakerRegistry) and registry.model_package_group_arns:
    pulumi.export("modelPackageGroupArns", registry.model_package_group_arns)
