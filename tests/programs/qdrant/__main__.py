"""Qdrant alone, with literal refs: the subject of tests/data_versioning/test_qdrant.py.

Stack `prod`: three nodes, snapshots, protect, monitoring, read-write team `research` and read-only team `ranking`.
Stack `minimal`: one node, no snapshots, no monitoring, the cluster's own StorageClass list is empty but the config
names one.
"""

import pulumi
import pulumi_kubernetes as k8s

from mlops_infra.blocks.identity import ClusterIdentity
from mlops_infra.blocks.kms import KmsKey, KmsKeyArgs
from mlops_infra.blocks.observability import MonitoringRefs
from mlops_infra.blocks.refs import ClusterRefs
from mlops_infra.data.qdrant import Qdrant, QdrantArgs
from mlops_infra.data.qdrant_config import QdrantConfig

test = pulumi.Config("test")
variant = test.require("variant")
config = QdrantConfig.model_validate(test.require_object("qdrant"))
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
provider = k8s.Provider("k8s", kubeconfig="{}")
cluster = ClusterRefs(
    name="mlops-test", cluster_security_group_id="sg-0123456789abcdef0", version="1.35",
    identity=ClusterIdentity(cluster_name="mlops-test", mode="irsa",
                             oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}", oidc_issuer=ISSUER),
    namespaces={"research": "research", "ranking": "ranking"}, network_policy_enforced=True,
    storage_classes=["gp3"] if variant == "prod" else [], provider=provider)
key = KmsKey("mlops-test-data", KmsKeyArgs(description="data", tags={"owner": "ml-platform"}))
# Stands in for the ESO release (what the security baseline installs).
marker = k8s.core.v1.Namespace("external-secrets", metadata={"name": "external-secrets"},
                               opts=pulumi.ResourceOptions(provider=provider))
monitoring = MonitoringRefs(namespace="monitoring", prometheus_namespace="monitoring") if variant == "prod" else None
qdrant = Qdrant(f"mlops-{variant}-qdrant", QdrantArgs(
    config=config, cluster=cluster, region="us-east-1", data_key=key, tags={"owner": "ml-platform"},
    client_namespaces=list(config.client_namespaces), read_only_namespaces=list(config.read_only_namespaces),
    external_secrets=[marker], monitoring=monitoring, protect=variant == "prod"),
    pulumi.ResourceOptions(providers={"kubernetes": provider}))
pulumi.export("url", qdrant.url)
pulumi.export("snapshotBucket", qdrant.snapshot_bucket)
pulumi.export("credentialsSecret", qdrant.client_secret_name)
