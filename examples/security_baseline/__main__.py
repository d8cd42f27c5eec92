"""SecurityBaseline alone on a platform stack's cluster and VPC (read through a StackReference): threat detection
and secrets delivery first, then `bucket_guards` last, from plain lists: the audit trail over the platform's data
buckets and, with `exfiltrationGuards` and a VPC whose S3 gateway endpoint is known, the exfiltration guards."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.blocks.stack_outputs import require_output
from mlops_infra.outputs import CONTRACT
from mlops_infra.security.security_baseline import BucketGuardsArgs, SecurityBaseline, SecurityBaselineArgs, bucket_guards
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `securityBaseline`
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # what the cluster runs: the platform's outputs
name, tags = f"{config.name}-{config.environment}-security", config.resource_tags
baseline = SecurityBaseline(name, SecurityBaselineArgs(
    config=config.security_baseline, region=config.region, tags=tags, cluster=cluster,
    protect=config.protect_stateful))
buckets = [pulumi.Output.concat("arn:aws:s3:::", require_output(platform, CONTRACT[attr].output, CONTRACT[attr].producer))
           for attr in ("feature_store_offline_bucket", "model_artifact_bucket")]
guards = bucket_guards(baseline, BucketGuardsArgs(
    config=config.security_baseline, region=config.region, tags=tags, network=NetworkRefs.from_stack_outputs(platform),
    cluster=cluster, data_bucket_arns=buckets, protect=config.protect_stateful, ml_namespaces=["search"],
    deployer_role_arns=config.security_baseline.deployer_role_arns or ()))
if guards.trail_arn is not None:
    pulumi.export("trailArn", guards.trail_arn)
if baseline.secret_store_name is not None:
    # The platform names this operator's ClusterSecretStore in cluster.externalSecretsStore (with externalSecrets
    # in cluster.addOnsInstalledElsewhere, owned by this stack): its components sync Secrets through it.
    pulumi.export("externalSecretsStore", baseline.secret_store_name)
