"""The SecurityBaseline on literal refs: two data buckets guarded by `data_bucket_guard`, a stand-in Kubernetes
provider, and integration secret values read from the stack's secure config."""

import pulumi
import pulumi_kubernetes as k8s

from mlops_infra.blocks.bucket import HardenedBucket, HardenedBucketArgs
from mlops_infra.blocks.identity import ClusterIdentity
from mlops_infra.blocks.kms import KmsKey, KmsKeyArgs
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs
from mlops_infra.security.security_baseline import (
    BucketGuardsArgs,
    SecurityBaseline,
    SecurityBaselineArgs,
    bucket_guards,
    data_bucket_guard,
)
from mlops_infra.stack import read_platform_config, secret_config

config = read_platform_config()
sb = config.security_baseline
tags = config.resource_tags
issuer = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
teams = [t.name for t in config.cluster.teams]
network = NetworkRefs(vpc_id="vpc-0123456789abcdef0", vpc_cidr=config.network.vpc_cidr,
                      private_subnet_ids=["subnet-0a", "subnet-0b"], s3_gateway_endpoint_id="vpce-0s3gateway000001")
provider = k8s.Provider("k8s", kubeconfig="{}")
cluster = ClusterRefs(
    name="mlops-test", version="1.35", cluster_security_group_id="sg-0cluster", provider=provider,
    identity=ClusterIdentity(cluster_name="mlops-test", mode=config.cluster.workload_identity,
                             oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/{issuer}", oidc_issuer=issuer),
    namespaces={t: t for t in teams})

key = KmsKey("data-key", KmsKeyArgs(description="data", tags=tags, protect=config.protect_stateful))
guard = data_bucket_guard(sb, network)
offline = HardenedBucket("feature-offline", HardenedBucketArgs(kms_key=key, tags=tags, vpc_endpoint_guard=guard,
                                                                  protect=config.protect_stateful))
artifacts = HardenedBucket("model-artifacts", HardenedBucketArgs(kms_key=key, tags=tags, vpc_endpoint_guard=guard,
                                                                  protect=config.protect_stateful))
shared = HardenedBucket("shared", HardenedBucketArgs(kms_key=key, tags=tags, protect=config.protect_stateful))

baseline = SecurityBaseline("sec", SecurityBaselineArgs(
    config=sb, region=config.region, tags=tags, cluster=cluster, protect=config.protect_stateful,
    alert_topic_arn="arn:aws:sns:eu-west-1:123456789012:mlops-alerts",
    secret_values={s.config_key: secret_config(s.config_key) for s in sb.integration_secrets}))
# Last, from the complete lists: the trail's data events and the S3 endpoint's buckets.
guards = bucket_guards(baseline, BucketGuardsArgs(
    config=sb, region=config.region, tags=tags, network=network, cluster=cluster, protect=config.protect_stateful,
    data_bucket_arns=[offline.arn, artifacts.arn], platform_bucket_arns=[shared.arn],
    ml_namespaces=teams, service_namespaces=[config.feature_store.namespace, config.model_registry.namespace],
    deployer_role_arns=sb.deployer_role_arns or []))

pulumi.export("trailArn", guards.trail_arn)
pulumi.export("detectorId", baseline.detector_id)
pulumi.export("secretStoreName", baseline.secret_store_name)
pulumi.export("integrationSecretArns", baseline.integration_secret_arns)
