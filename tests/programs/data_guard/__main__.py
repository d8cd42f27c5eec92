"""The VPC-endpoint guard on the offline buckets of a SageMaker and an Athena feature store, and idempotent
bucket grants. Built from component configs directly, so it plans without a platform config."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_infra.blocks.bucket import HardenedBucket, HardenedBucketArgs
from mlops_infra.blocks.grants import Grants
from mlops_infra.blocks.identity import ClusterIdentity
from mlops_infra.blocks.kms import KmsKey, KmsKeyArgs
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs
from mlops_infra.features.config import FeastFeatureStoreConfig, SageMakerFeatureStoreConfig
from mlops_infra.features.feature_store import FeatureStore, FeatureStoreArgs
from mlops_infra.security.config import SecurityBaselineConfig
from mlops_infra.security.exfiltration_guards import data_bucket_guard

BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass"
tags = {"owner": "ml-platform", "costCenter": "cc-1"}
issuer = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
network = NetworkRefs(vpc_id="vpc-0a1b2c3d4e5f60718", vpc_cidr="10.0.0.0/16",
                      private_subnet_ids=["subnet-0aaa1111", "subnet-0bbb2222"],
                      s3_gateway_endpoint_id="vpce-0s3gateway000001")
provider = k8s.Provider("k8s", kubeconfig="{}")
cluster = ClusterRefs(
    name="mlops-test", version="1.35", cluster_security_group_id="sg-0c1a5c1a5c1a5c1a5", provider=provider,
    identity=ClusterIdentity(cluster_name="mlops-test", mode="irsa", oidc_issuer=issuer,
                             oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/{issuer}"))
guard = data_bucket_guard(SecurityBaselineConfig(exfiltration_guards=True, break_glass_role_arns=[BREAK_GLASS]),
                          network)

sagemaker = FeatureStore("sm", FeatureStoreArgs(
    config=SageMakerFeatureStoreConfig.model_validate({"engine": "sagemaker", "featureGroups": [
        {"name": "drivers", "recordIdentifier": "driver_id", "features": {"driver_id": "String"}}]}),
    tags=tags, network=network, cluster=cluster, bucket_guard=guard))
athena = FeatureStore("ath", FeatureStoreArgs(
    config=FeastFeatureStoreConfig.model_validate({"offline": {"engine": "athena"}}),
    tags=tags, network=network, cluster=cluster, bucket_guard=guard))

key = KmsKey("key", KmsKeyArgs(description="shared", tags=tags))
shared = HardenedBucket("shared", HardenedBucketArgs(kms_key=key, tags=tags))
trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},' \
        '"Action":"sts:AssumeRole"}]}'
trainer = aws.iam.Role("trainer", assume_role_policy=trust)
first = shared.grant_read(trainer)
again = shared.grant_read(trainer)  # a second wiring of the same role: the same policy, no duplicate URN
assert again is first
shared.grant_write(trainer)
shared.grant_read(trainer, "models/")

# A component that uses a bucket it does not own (BucketRefs): the same idempotent grants, its own policies. Its
# name is long enough that Pulumi's autoname of `<owner>-artifacts-read-policy` would exceed IAM's 128 characters.
consumer_name = "team-analytics-" + "very-long-consumer-component-name-" * 3
consumer = pulumi.ComponentResource("test:index:BucketConsumer", consumer_name)
consumer_grants = Grants(consumer, consumer_name, tags)
refs = shared.refs
first_ref = refs.grant_read(consumer_grants, trainer, grant="artifacts-read")
assert refs.grant_read(consumer_grants, trainer, grant="artifacts-read") is first_ref
refs.grant_write(consumer_grants, trainer, "models/", grant="artifacts-write")
