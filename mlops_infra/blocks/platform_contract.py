"""The platform stack's output contract as the refs read it: contract attribute -> output name, the platform config
that exports each optional output (named when one is missing), and the readers `blocks/refs.py` uses."""

from __future__ import annotations

from typing import Any

import pulumi

from .stack_outputs import MissingStackOutput, output_value, require_output

PLATFORM_OUTPUTS: dict[str, str] = {
    "vpc_id": "vpcId", "vpc_cidr": "vpcCidr", "private_subnet_ids": "privateSubnetIds",
    "cluster_name": "clusterName", "cluster_security_group_id": "clusterSecurityGroupId",
    "oidc_provider_arn": "oidcProviderArn", "oidc_issuer": "oidcIssuer", "kubeconfig": "kubeconfig",
    "node_role_arn": "nodeRoleArn", "cluster_kms_key_arn": "clusterKmsKeyArn",
    "workload_identity": "workloadIdentity", "cluster_version": "clusterVersion",
    "load_balancer_controller": "loadBalancerController", "network_policy_enforced": "networkPolicyEnforced",
    "container_insights": "containerInsights", "metrics_server": "metricsServer",
    "service_ipv4_cidr": "serviceIpv4Cidr", "storage_classes": "storageClasses",
    "interface_endpoints": "vpcInterfaceEndpoints", "external_secrets_store": "externalSecretsStore",
    # Who else is on the cluster and VPC (review of issue 29, findings 5 and 6): optional, read as "nothing known".
    "platform_namespaces": "platformNamespaces", "consumer_bucket_prefixes": "consumerBucketPrefixes",
}
"""The platform stack's outputs the refs read, by contract attribute. Only the names: the contract itself
(mlops_infra.outputs.CONTRACT) is a layer up; tests/blocks/test_refs_contract.py proves each name is the
contract's, and that `from_stack_outputs` reads no other."""
# Serving and data alone (review of #29): the artifact bucket and its key, and what else the cluster runs.
PLATFORM_OUTPUTS.update({
    "model_artifact_bucket": "modelArtifactBucket", "model_artifact_key_arn": "modelArtifactKeyArn",
    "system_node_disk_gib": "systemNodeDiskGib",
})
PLATFORM_PRODUCERS: dict[str, str] = {
    "oidc_provider_arn": "cluster.workloadIdentity: irsa",
    "external_secrets_store": "securityBaseline.enabled: true with securityBaseline.externalSecrets: true, or (an "
    "operator another stack installed) externalSecrets in cluster.addOnsInstalledElsewhere with "
    "cluster.externalSecretsStore",
    "model_artifact_bucket": "modelRegistry.enabled: true",
    "model_artifact_key_arn": "modelRegistry.enabled: true",
    "consumer_bucket_prefixes": "securityBaseline.exfiltrationGuards: true on a VPC it creates (no network.existingVpc)",
}
"""The platform config that exports an output the refs read, where only some platform stacks export it (the
contract's `producer`; tests/blocks/test_refs_contract.py proves they are equal): named when it is missing."""
# What the cluster already runs of the cluster-wide singletons (blocks/cluster_add_ons.py), and the S3 gateway endpoint
# of the VPC (the exfiltration guards): optional outputs, newer than some platform stacks.
PLATFORM_OUTPUTS.update({"cluster_add_ons": "clusterAddOns", "s3_gateway_endpoint_id": "vpcS3GatewayEndpointId"})
# ...and which stack owns each (so the stack that installed one may plan it again): optional, newer still.
PLATFORM_OUTPUTS["cluster_add_on_owners"] = "clusterAddOnOwners"
PLATFORM_PRODUCERS["s3_gateway_endpoint_id"] = "network.existingVpc.s3GatewayEndpointId (a VPC the platform makes has one)"

# The teams' egress guard (third review of #29, finding 2): optional, read as "nothing guarded".
PLATFORM_OUTPUTS.update({"egress_guarded_namespaces": "egressGuardedNamespaces",
                         "consumer_service_ports": "consumerServicePorts",
                         "egress_guarded_workspaces": "egressGuardedWorkspaces"})
PLATFORM_PRODUCERS.update({attr: "securityBaseline.exfiltrationGuards: true" for attr in (
    "egress_guarded_namespaces", "consumer_service_ports", "egress_guarded_workspaces")})

def _output_key(attr: str) -> str:
    """The platform's output name for a contract attribute (`PLATFORM_OUTPUTS`)."""
    return PLATFORM_OUTPUTS[attr]


def _require(ref: pulumi.StackReference, attr: str) -> pulumi.Output[Any]:
    """The platform's output for a contract attribute; a missing one fails naming the output and the stack."""
    return require_output(ref, _output_key(attr), PLATFORM_PRODUCERS.get(attr, ""))


def _value(ref: pulumi.StackReference, attr: str, override: str = "") -> Any:
    """The plain value of a contract output, for what decides which resources exist (`override`: the argument that
    replaces an optional output, named when it is missing)."""
    return output_value(ref, _output_key(attr), PLATFORM_PRODUCERS.get(attr, ""), override)


def _optional_value(ref: pulumi.StackReference, attr: str) -> Any:
    """`_value`, or None when the referenced stack does not export it (an output added after a release)."""
    try:
        return output_value(ref, _output_key(attr))
    except MissingStackOutput:
        return None


def _stack_add_ons(ref: pulumi.StackReference) -> frozenset[str] | None:
    """The platform stack's `clusterAddOns` (what its cluster runs of the singletons), None when an older stack
    lacks the output (unknown)."""
    found = _optional_value(ref, "cluster_add_ons")
    return None if found is None else frozenset(found)
