"""LakeFS and the teams' DVC remotes alone, with literal refs: the subject of tests/data_versioning/test_lakefs.py
and test_dvc_remotes.py.

Stack `prod`: two LakeFS replicas, protect, monitoring, exfiltration guard on the buckets, s3 DVC remotes for
teams `research` and `ranking`. Stack `gateway`: one replica, no monitoring, DVC remotes through LakeFS's S3 gateway.
"""

import pulumi
import pulumi_kubernetes as k8s

from mlops_infra.blocks.bucket import VpcEndpointGuard
from mlops_infra.blocks.identity import ClusterIdentity
from mlops_infra.blocks.kms import KmsKey, KmsKeyArgs
from mlops_infra.blocks.observability import MonitoringRefs
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs
from mlops_infra.data.config import DataConfig
from mlops_infra.data.dvc import DvcRemotes, DvcRemotesArgs
from mlops_infra.data.lakefs import LakeFs, LakeFsArgs

test = pulumi.Config("test")
variant = test.require("variant")
config = DataConfig.model_validate(test.require_object("data"))
TEAMS = ["ranking", "research"]
TAGS = {"owner": "ml-platform"}
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
provider = k8s.Provider("k8s", kubeconfig="{}")
network = NetworkRefs(vpc_id="vpc-0123456789abcdef0", vpc_cidr="10.0.0.0/16",
                      private_subnet_ids=["subnet-0aaa", "subnet-0bbb", "subnet-0ccc"],
                      s3_gateway_endpoint_id="vpce-0123456789abcdef0")
cluster = ClusterRefs(
    name="mlops-test", cluster_security_group_id="sg-0123456789abcdef0", version="1.35",
    identity=ClusterIdentity(cluster_name="mlops-test", mode="irsa",
                             oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}", oidc_issuer=ISSUER),
    namespaces={t: t for t in TEAMS}, network_policy_enforced=True, storage_classes=["gp3"], provider=provider)
key = KmsKey("mlops-test-data", KmsKeyArgs(description="data", tags=TAGS))
prod = variant == "prod"
guard = VpcEndpointGuard(vpc_endpoint_ids=["vpce-0123456789abcdef0"],
                         deployer_role_arns=["arn:aws:iam::123456789012:role/platform-deployer"]) if prod else None
# Stands in for the ESO release (what the security baseline installs).
marker = k8s.core.v1.Namespace("external-secrets", metadata={"name": "external-secrets"},
                               opts=pulumi.ResourceOptions(provider=provider))
monitoring = MonitoringRefs(namespace="monitoring", prometheus_namespace="monitoring") if prod else None
opts = pulumi.ResourceOptions(providers={"kubernetes": provider})
lakefs = LakeFs(f"mlops-{variant}-lakefs", LakeFsArgs(
    config=config.lakefs, network=network, cluster=cluster, kms_key=key, region="us-east-1", tags=TAGS,
    client_namespaces=TEAMS, protect=prod, bucket_guard=guard, monitoring=monitoring, external_secrets=marker), opts)
remotes = DvcRemotes(f"mlops-{variant}-dvc", DvcRemotesArgs(
    teams=TEAMS, region="us-east-1", tags=TAGS, kms_key=key, backend=test.get("dvcBackend") or config.dvc.backend,
    lakefs_endpoint=lakefs.endpoint, protect=prod, bucket_guard=guard))
pulumi.export("lakefsEndpoint", lakefs.endpoint)
pulumi.export("lakefsRepositoryNamespace", lakefs.repository_namespace)
pulumi.export("dvcRemotes", {t: r.output() for t, r in remotes.teams.items()})
