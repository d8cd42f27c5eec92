"""LakeFs alone, on the cluster and in the VPC of a platform stack (read through a StackReference), with its own
data key. Only the `lakefs` section of this stack's config is read."""

import pulumi

from mlops_infra.blocks.kms import KmsKey, KmsKeyArgs
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.data.config import LakeFsConfig
from mlops_infra.data.lakefs import LakeFs, LakeFsArgs
from mlops_infra.stack import read_config_section

stack = pulumi.Config()
config = read_config_section(pulumi.get_project(), "lakefs", LakeFsConfig)
platform = pulumi.StackReference("platform", stack_name=stack.require("platformStack"))
tags = {"owner": "search-team"}
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # the one provider
key = KmsKey("search-lakefs-key", KmsKeyArgs(description="search LakeFS data", tags=tags))
lakefs = LakeFs("search-lakefs", LakeFsArgs(
    config=config, network=NetworkRefs.from_stack_outputs(platform),
    cluster=ClusterRefs.from_stack_outputs(platform, provider),
    kms_key=key, region=pulumi.Config("aws").require("region"), tags=tags, client_namespaces=["search"],
    protect=False))
pulumi.export("lakefsEndpoint", lakefs.endpoint)
pulumi.export("lakefsRepositoryNamespace", lakefs.repository_namespace)
