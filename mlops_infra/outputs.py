"""The platform stack's outputs: the contract consumer stacks rely on.

Keys are camelCase stack outputs and never change once released. `PlatformOutputs.from_stack_reference(ref)`
reads them back, typed, in a consumer stack. Outputs that exist only with some config (IRSA, Feast, MLflow) are
optional: they read as None there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import pulumi


class Key(NamedTuple):
    output: str
    description: str
    secret: bool = False
    required: bool = True


CONTRACT: dict[str, Key] = {
    "environment": Key("environment", "`dev`, `staging` or `prod`."),
    "cluster_name": Key("clusterName", "EKS cluster name."),
    "kubeconfig": Key("kubeconfig", "Kubeconfig for the cluster (exec auth with `aws eks get-token`). Secret.", secret=True),
    "workload_identity": Key("workloadIdentity", "`irsa` or `podIdentity`: how workloads get AWS credentials."),
    "oidc_provider_arn": Key("oidcProviderArn", "IAM OIDC provider ARN (IRSA only).", required=False),
    "oidc_issuer": Key("oidcIssuer", "OIDC issuer host and path, without https:// (IRSA only).", required=False),
    "vpc_id": Key("vpcId", "VPC id."),
    "private_subnet_ids": Key("privateSubnetIds", "Private subnet ids, one per AZ."),
    "cluster_security_group_id": Key("clusterSecurityGroupId", "The EKS cluster security group (on every node)."),
    "node_role_arn": Key("nodeRoleArn", "IAM role of the cluster's nodes (for a consumer's own node groups)."),
    "cluster_kms_key_arn": Key("clusterKmsKeyArn", "The cluster's KMS key (secrets and node volumes)."),
    "feature_store_offline_bucket": Key("featureStoreOfflineBucketName", "Feature store offline bucket.", required=False),
    "feature_store_registry": Key("featureStoreRegistryPath", "Feast registry path.", required=False),
    "feature_store_url": Key("featureStoreFeatureServerUrl", "Feature server URL inside the cluster.", required=False),
    "feature_store_read_policy_arn": Key("featureStoreReadPolicyArn",
                                         "Managed policy: least-privilege read of the feature store.", required=False),
    "mlflow_tracking_uri": Key("mlflowTrackingUri", "MLflow tracking URI inside the cluster.", required=False),
    "model_artifact_bucket": Key("modelArtifactBucket", "Model artifact bucket.", required=False),
    "model_artifact_write_policy_arn": Key("modelArtifactWritePolicyArn",
                                           "Managed policy: log models (write artifacts under the artifact prefix).",
                                           required=False),
    "alert_topic_arn": Key("alertTopicArn", "SNS topic every alert goes to.", required=False),
}


@dataclass(frozen=True)
class PlatformOutputs:
    environment: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    workload_identity: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str | None]
    oidc_issuer: pulumi.Output[str | None]
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    cluster_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    cluster_kms_key_arn: pulumi.Output[str]
    feature_store_offline_bucket: pulumi.Output[str | None]
    feature_store_registry: pulumi.Output[str | None]
    feature_store_url: pulumi.Output[str | None]
    feature_store_read_policy_arn: pulumi.Output[str | None]
    mlflow_tracking_uri: pulumi.Output[str | None]
    model_artifact_bucket: pulumi.Output[str | None]
    model_artifact_write_policy_arn: pulumi.Output[str | None]
    alert_topic_arn: pulumi.Output[str | None]

    @classmethod
    def from_stack_reference(cls, ref: pulumi.StackReference) -> PlatformOutputs:
        """Every contract output of a platform stack; a missing required output fails the consumer's preview."""
        values: dict[str, Any] = {
            attr: ref.require_output(key.output) if key.required else ref.get_output(key.output)
            for attr, key in CONTRACT.items()}
        return cls(**values)

    def field_names(self) -> list[str]:
        return [f.name for f in fields(self)]


def contract_table() -> str:
    """Markdown table of the contract, for the README."""
    rows = ["| output | description | always present |", "|---|---|---|"]
    rows += [f"| `{k.output}` | {k.description} | {'yes' if k.required else 'no'} |" for k in CONTRACT.values()]
    return "\n".join(rows)
