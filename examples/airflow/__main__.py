"""Airflow alone, on the cluster and VPC of a platform stack (read through a StackReference): no PlatformContext."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.blocks.stack_outputs import known_value
from mlops_infra.pipelines.airflow import Airflow, AirflowArgs
from mlops_infra.pipelines.refs import EngineRefs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and the engine's section
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # version, workloadIdentity: the platform's outputs
# No KMS key given: the engine creates its own. Task pods may read the platform's features and log models (its
# managed policies, attached to the executor role); no MLflow or feature-server endpoint is wired.
refs = EngineRefs(cluster=cluster, network=NetworkRefs.from_stack_outputs(platform), region=config.region,
                  tags=config.resource_tags, protect=config.protect_stateful,
                  feature_read_policy_arn=platform.require_output("featureStoreReadPolicyArn"),
                  artifact_write_policy_arn=platform.require_output("modelArtifactWritePolicyArn"),
                  # The feature grant covers the online tables when Feast's online store is DynamoDB: egress too.
                  dynamodb=known_value(platform.get_output("featureStoreOnlineTableNames")) is not None)
engine = Airflow(f"{config.name}-{config.environment}-airflow", AirflowArgs(
    config=config.orchestration.airflow, refs=refs))
pulumi.export("airflowApiServerUrl", engine.api_server_url)
pulumi.export("airflowLogBucket", engine.bucket.bucket_name)
