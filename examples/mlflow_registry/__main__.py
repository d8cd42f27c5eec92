"""MlflowRegistry alone, on the cluster and VPC of a platform stack (read through a StackReference)."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.registry.mlflow_registry import MlflowRegistry, MlflowRegistryArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `modelRegistry`
if config.mlflow is None:  # `modelRegistry` when it is enabled and its engine is mlflow
    raise ValueError("modelRegistry: this program deploys MLflow (enabled: true, engine: mlflow)")
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # what the cluster runs (e.g. the ALB controller)
# Namespaces of the platform's teams whose pods log here: each gets an MLflow user and this registry's own Secret
# (`credentials_secret_name`, never the platform's `mlflow-credentials`). A namespace the platform guards with
# default-deny egress is refused unless its `consumerServicePorts` admits this server's port.
teams = list(pulumi.Config().get_object("teamNamespaces") or [])
registry = MlflowRegistry(f"{config.name}-{config.environment}-registry", MlflowRegistryArgs(
    config=config.mlflow, tags=config.resource_tags, network=NetworkRefs.from_stack_outputs(platform),
    cluster=cluster, protect=config.protect_stateful, client_namespaces=teams, team_namespaces=teams))
pulumi.export("trackingUri", registry.tracking_uri)
pulumi.export("artifactBucketName", registry.artifact_bucket_name)
pulumi.export("modelArtifactWritePolicyArn", registry.log_models_policy.arn)  # consumer stacks' training roles
pulumi.export("credentialsSecretName", registry.credentials_secret_name)  # in each of `teamNamespaces`
