"""Qdrant alone, on the cluster of a platform stack (read through a StackReference), under the platform's data key
(`dataKeyArn`, by reference); its API keys reach the cluster through the External Secrets operator the platform
installed. Only the `qdrant` section of
this stack's config is read."""

import pulumi

from mlops_infra.blocks.kms import KeyRef
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.data.qdrant import Qdrant, QdrantArgs
from mlops_infra.data.qdrant_config import QdrantConfig
from mlops_infra.stack import read_config_section

stack = pulumi.Config()
config = read_config_section(pulumi.get_project(), "qdrant", QdrantConfig)
platform = pulumi.StackReference("platform", stack_name=stack.require("platformStack"))
tags = {"owner": "search-team"}
# The platform's cluster makes the encrypted gp3 StorageClass (what it runs is given, not waited for).
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # the one provider
cluster = ClusterRefs.from_stack_outputs(platform, provider, storage_classes=["gp3"])
key = KeyRef(platform.require_output("dataKeyArn"))  # an existing key: grants name it, nothing is created
qdrant = Qdrant("search-qdrant", QdrantArgs(
    config=config, cluster=cluster, region=pulumi.Config("aws").require("region"), data_key=key, tags=tags,
    client_namespaces=list(config.client_namespaces), read_only_namespaces=list(config.read_only_namespaces),
    network=NetworkRefs.from_stack_outputs(platform),  # its guarded S3 endpoint's admitted bucket names, if any
    protect=False))
pulumi.export("qdrantUrl", qdrant.url)
pulumi.export("qdrantSnapshotBucket", qdrant.snapshot_bucket)
pulumi.export("qdrantCredentialsSecret", qdrant.client_secret_name)  # `search-qdrant-credentials` in each granted ns
