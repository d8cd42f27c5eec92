"""ModelServing (KServe) alone, on the cluster of a platform stack, serving models from the platform's artifact
bucket (read through a StackReference). Only the `serving` section of this stack's config is read."""

import pulumi

from mlops_infra.blocks.refs import BucketRefs, ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.serving.config import ServingConfig
from mlops_infra.serving.model_serving import ModelServing, ModelServingArgs
from mlops_infra.stack import read_config_section

stack = pulumi.Config()
config = read_config_section(pulumi.get_project(), "serving", ServingConfig)
platform = pulumi.StackReference("platform", stack_name=stack.require("platformStack"))
# What the platform's cluster runs decides which resources exist: given here, not waited for.
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # the one provider
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # metrics-server: the platform's `metricsServer`
serving = ModelServing("search-serving", ModelServingArgs(
    # The registry's artifact bucket and the key its objects are encrypted with (`modelArtifactKeyArn`).
    config=config, cluster=cluster, artifacts=BucketRefs.model_artifacts(platform),
    # KServe and cert-manager are the cluster's, once: installing them here is this stack's explicit choice
    # (`installController`); then list `kserve`, owned by this stack, in the platform's
    # cluster.addOnsInstalledElsewhere (README), and keep installing them here.
    install_controller=stack.require_bool("installController"), region=pulumi.Config("aws").require("region"),
    tags={"owner": "search-team"}, client_namespaces=["search"],
    vpc_cidr=NetworkRefs.from_stack_outputs(platform).vpc_cidr))
pulumi.export("servingEndpoints", serving.endpoints)
pulumi.export("servingRoleArn", serving.identity.role_arn)
