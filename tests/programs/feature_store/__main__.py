"""FeatureStore with literal network/cluster refs; each stack is one configuration of the component."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_infra.blocks.identity import ClusterIdentity
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs
from mlops_infra.features.feature_store import FeatureStore, FeatureStoreArgs, FeatureStoreLike
from mlops_infra.stack import read_platform_config

config = read_platform_config()
test = pulumi.Config("fstest")
subnets = test.get_object("privateSubnets")
mode = test.get("identityMode") or "irsa"
issuer = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
network = NetworkRefs(
    vpc_id="vpc-0a1b2c3d4e5f60718", vpc_cidr="10.0.0.0/16",
    private_subnet_ids=["subnet-0aaa1111", "subnet-0bbb2222"] if subnets is None else subnets)
provider = k8s.Provider("k8s", kubeconfig="{}")
cluster = ClusterRefs(
    name="mlops-test",
    provider=provider,
    identity=ClusterIdentity(cluster_name="mlops-test", mode=mode,  # type: ignore[arg-type]
                             oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/{issuer}",
                             oidc_issuer=issuer),
    cluster_security_group_id="sg-0c1a5c1a5c1a5c1a5",
    version="1.35",
    namespaces={"feast": "feast"} if test.get_bool("clusterNamespace") else {},
)
store = FeatureStore("fs", FeatureStoreArgs(
    config=config.feature_store, tags=config.resource_tags, network=network, cluster=cluster,
    protect=config.protect_stateful))  # binds its Kubernetes children to `cluster.provider` itself
# Either engine is a FeatureStoreLike: every member of the Protocol is set (read_policy before any grant).
assert isinstance(store, FeatureStoreLike), store
trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},' \
        '"Action":"sts:AssumeRole"}]}'
trainer = aws.iam.Role("trainer", assume_role_policy=trust)
ingest = aws.iam.Role("ingest", assume_role_policy=trust)
store.grant_read(trainer)
store.grant_write(ingest)
# Granting again (e.g. two teams wiring the same role) must not register a second resource under the same URN.
store.grant_read(trainer)
store.grant_write(ingest)
assert store.read_policy is store.grant_read(trainer).policy  # created with the store; the one grant_read attaches
for key, value in store.outputs.items():
    pulumi.export(key, value)
