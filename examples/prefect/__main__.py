"""Prefect alone, on the cluster and VPC of a platform stack (read through a StackReference): no PlatformContext."""

import pulumi

from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.pipelines.prefect import Prefect, PrefectArgs
from mlops_infra.pipelines.prefect_cloud import PrefectCloudKey
from mlops_infra.pipelines.prefect_config import PrefectCloudConfig
from mlops_infra.pipelines.refs import EngineRefs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and the engine's section
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # version, workloadIdentity: the platform's outputs
# No KMS key given: the engine creates its own. No MLflow, feature server or grants: none are wired.
refs = EngineRefs(cluster=cluster, network=NetworkRefs.from_stack_outputs(platform), region=config.region,
                  tags=config.resource_tags, protect=config.protect_stateful)
prefect = config.orchestration.prefect
# Prefect Cloud (stack `cloud`): the engine syncs the API key from a Secrets Manager secret named in this stack's
# config into the namespace's Secret `api.apiKeySecret`, which the worker reads; a self-hosted server needs none.
cloud_key = PrefectCloudKey.from_secrets_manager(pulumi.Config().require("apiKeySecretArn")) \
    if isinstance(prefect.api, PrefectCloudConfig) else None
engine = Prefect(f"{config.name}-{config.environment}-prefect", PrefectArgs(
    config=prefect, refs=refs, cloud_api_key=cloud_key))
pulumi.export("prefectApiUrl", engine.api_url)
pulumi.export("prefectBaseJobTemplate", engine.base_job_template)
