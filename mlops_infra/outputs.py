"""The platform stack's outputs: the contract consumer stacks rely on.

Keys are camelCase stack outputs and never change once released. `PlatformOutputs.from_stack_reference(ref)`
reads them back, typed, in a consumer stack.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi

# attribute -> (stack output key, description, secret?)
CONTRACT: dict[str, tuple[str, str, bool]] = {
    "environment": ("environment", "dev, staging or prod.", False),
    "cluster_name": ("clusterName", "EKS cluster name.", False),
    "kubeconfig": ("kubeconfig", "Kubeconfig for the cluster (exec auth via `aws eks get-token`). Secret.", True),
    "oidc_provider_arn": ("oidcProviderArn", "IAM OIDC provider ARN for IRSA.", False),
    "oidc_issuer": ("oidcIssuer", "OIDC issuer host and path, without https://.", False),
    "workload_identity": ("workloadIdentity", "`irsa` or `podIdentity`: how workloads get AWS credentials.", False),
    "vpc_id": ("vpcId", "VPC id.", False),
    "private_subnet_ids": ("privateSubnetIds", "Private subnet ids, one per AZ.", False),
    "cluster_security_group_id": ("clusterSecurityGroupId", "The EKS cluster security group (on every node).", False),
    "feature_store_offline_bucket": ("featureStoreOfflineBucket", "Feast offline store bucket name.", False),
    "feature_store_online_store": ("featureStoreOnlineStore", "DynamoDB table name prefix or Redis endpoint.", False),
    "feature_store_registry": ("featureStoreRegistry", "Feast registry path.", False),
    "feature_store_url": ("featureStoreUrl", "Feature server URL inside the cluster.", False),
    "feature_store_read_policy_arn": ("featureStoreReadPolicyArn",
                                      "Managed policy granting least-privilege read of the feature store.", False),
    "mlflow_tracking_uri": ("mlflowTrackingUri", "MLflow tracking URI inside the cluster.", False),
    "model_artifact_bucket": ("modelArtifactBucket", "MLflow artifact bucket name.", False),
    "model_artifact_write_policy_arn": ("modelArtifactWritePolicyArn",
                                        "Managed policy granting write of model artifacts (logging models).", False),
    "alert_topic_arn": ("alertTopicArn", "SNS topic every alert goes to.", False),
}


@dataclass(frozen=True)
class PlatformOutputs:
    environment: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    workload_identity: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    cluster_security_group_id: pulumi.Output[str]
    feature_store_offline_bucket: pulumi.Output[str]
    feature_store_online_store: pulumi.Output[str]
    feature_store_registry: pulumi.Output[str]
    feature_store_url: pulumi.Output[str]
    feature_store_read_policy_arn: pulumi.Output[str]
    mlflow_tracking_uri: pulumi.Output[str]
    model_artifact_bucket: pulumi.Output[str]
    model_artifact_write_policy_arn: pulumi.Output[str]
    alert_topic_arn: pulumi.Output[str]

    @classmethod
    def from_stack_reference(cls, ref: pulumi.StackReference) -> PlatformOutputs:
        """Every contract output, read from a platform stack. A missing output fails the consumer's preview."""
        values: dict[str, Any] = {attr: ref.require_output(key) for attr, (key, _, _) in CONTRACT.items()}
        return cls(**values)

    def export(self) -> None:
        for f in fields(self):
            key, _, secret = CONTRACT[f.name]
            value = getattr(self, f.name)
            pulumi.export(key, pulumi.Output.secret(value) if secret else value)


def contract_table() -> str:
    """Markdown table of the contract, for the README."""
    rows = ["| output | description |", "|---|---|"]
    rows += [f"| `{key}` | {desc} |" for key, desc, _ in CONTRACT.values()]
    return "\n".join(rows)
