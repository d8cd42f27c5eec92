"""TrainingCluster alone: an EKS cluster (add-ons, system nodes, its own Kubernetes provider) in the VPC of a platform
stack, read through a StackReference; the cluster's config is this stack's `trainingCluster:cluster` (a
ClusterConfig). No PlatformConfig."""

import pulumi

from mlops_infra.blocks.refs import NetworkRefs
from mlops_infra.compute.cluster import TrainingCluster, TrainingClusterArgs
from mlops_infra.compute.config import ClusterConfig
from mlops_infra.stack import read_config_section

config = pulumi.Config()
platform = pulumi.StackReference("platform", stack_name=config.require("platformStack"))
cluster = TrainingCluster("search-dev", TrainingClusterArgs(
    config=read_config_section("training_cluster", "cluster", ClusterConfig),
    network=NetworkRefs.from_stack_outputs(platform), region=pulumi.Config("aws").require("region"),
    tags=config.require_object("tags"), protect=False))
pulumi.export("clusterName", cluster.cluster.name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
