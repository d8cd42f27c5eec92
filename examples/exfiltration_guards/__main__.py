"""ExfiltrationGuards alone, on the VPC and cluster of a platform stack (read through a StackReference): default-deny
egress with the platform's allowlist in this stack's own namespace, bound to the platform's cluster through
`ClusterRefs`. The platform's S3 gateway endpoint is shared (not this stack's): its policy document is exported for
the endpoint's owner to merge, never written here."""

import pulumi
import pulumi_kubernetes as k8s

from mlops_infra.blocks.namespace import namespace_labels
from mlops_infra.blocks.refs import ClusterRefs, NetworkRefs, cluster_provider
from mlops_infra.security.exfiltration_guards import ExfiltrationGuards, ExfiltrationGuardsArgs
from mlops_infra.stack import read_consumer_config

config = read_consumer_config()  # this stack's `mlops:platform`: who and where it is, and `securityBaseline`
platform = pulumi.StackReference("platform", stack_name=pulumi.Config().require("platformStack"))
provider = cluster_provider("platform-cluster", ClusterRefs.stack_kubeconfig(platform))  # once per program
cluster = ClusterRefs.from_stack_outputs(platform, provider)  # its Service CIDR: the platform's output
network = NetworkRefs.from_stack_outputs(platform)  # its S3 gateway endpoint: the platform's `s3GatewayEndpointId`
name = f"{config.name}-{config.environment}"
team = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": config.name, "labels": namespace_labels("restricted")},
                             opts=pulumi.ResourceOptions(provider=provider))
guards = ExfiltrationGuards(f"{name}-guards", ExfiltrationGuardsArgs(
    config=config.security_baseline, network=network, region=config.region, cluster=cluster,
    ml_namespaces=[config.name], namespaces={config.name: team.metadata.name},
    # The platform's feature store and MLflow; its Feast online store is DynamoDB (a gateway endpoint).
    service_namespaces=["feast", "mlflow"], gateway_services=["dynamodb"]))
pulumi.export("s3EndpointPolicy", guards.endpoint_policy)
