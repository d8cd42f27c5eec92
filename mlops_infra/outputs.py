"""The platform stack's outputs: one typed contract that the platform exports and consumer stacks read.

Every exported key is a `Key` here (core) or in an add-on's own package (`OUTPUTS` beside its `wiring.build`).
A key's `when` says for which config the platform exports it; `exported_keys(config)` is exactly the set a stack
of that config exports (tests/platform/test_output_contract.py proves the equality per environment). Keys never
change once released. `PlatformOutputs.from_stack_reference(ref)` reads them back, typed, in a consumer stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import pulumi

if TYPE_CHECKING:
    from .config import PlatformConfig


@dataclass(frozen=True)
class Key:
    """One stack output. `when`: the configs that export it (None: every config). `required`: a consumer's preview
    fails when the output is missing (default: when it is always exported); False for keys added after a release,
    which older platform stacks lack."""

    output: str
    description: str
    secret: bool = False
    when: Callable[[PlatformConfig], bool] | None = None
    required: bool | None = None

    def exported(self, config: PlatformConfig) -> bool:
        return self.when is None or self.when(config)

    @property
    def always(self) -> bool:
        return self.when is None

    @property
    def must_exist(self) -> bool:
        return self.always if self.required is None else self.required


def _irsa(c: PlatformConfig) -> bool:
    return c.cluster.workload_identity == "irsa"


def _feast(c: PlatformConfig) -> bool:
    return c.feature_store.enabled and c.feature_store.engine == "feast"


def _mlflow(c: PlatformConfig) -> bool:
    return c.model_registry.enabled and c.model_registry.engine == "mlflow"


CONTRACT: dict[str, Key] = {
    "environment": Key("environment", "`dev`, `staging` or `prod`."),
    "cluster_name": Key("clusterName", "EKS cluster name."),
    "cluster_endpoint": Key("clusterEndpoint", "EKS API server endpoint."),
    "kubeconfig": Key("kubeconfig", "Kubeconfig for the cluster (exec auth with `aws eks get-token`). Secret.", secret=True),
    "workload_identity": Key("workloadIdentity", "`irsa` or `podIdentity`: how workloads get AWS credentials."),
    "oidc_provider_arn": Key("oidcProviderArn", "IAM OIDC provider ARN (IRSA only).", when=_irsa),
    "oidc_issuer": Key("oidcIssuer", "OIDC issuer host and path, without https:// (IRSA trusts it)."),
    "vpc_id": Key("vpcId", "VPC id."),
    "vpc_cidr": Key("vpcCidr", "VPC CIDR (e.g. for a stand-alone component's ingress rules).", required=False),
    "private_subnet_ids": Key("privateSubnetIds", "Private subnet ids, one per AZ."),
    "cluster_security_group_id": Key("clusterSecurityGroupId", "The EKS cluster security group (on every node)."),
    "node_role_arn": Key("nodeRoleArn", "IAM role of the cluster's nodes (for a consumer's own node groups)."),
    "cluster_kms_key_arn": Key("clusterKmsKeyArn", "The cluster's KMS key (secrets and node volumes)."),
    "shared_bucket_name": Key("sharedBucketName", "The platform's shared bucket (`scratch/` expires after 30 days)."),
    "data_key_arn": Key("dataKeyArn", "The platform's data KMS key (shared bucket, feature store)."),
    "feature_store_offline_bucket": Key("featureStoreOfflineBucketName", "Feature store offline bucket.",
                                        when=lambda c: c.feature_store.enabled),
    "feature_store_kms_key_arn": Key("featureStoreKmsKeyArn", "KMS key of the feature store's data.",
                                     when=lambda c: c.feature_store.enabled),
    "feature_store_read_policy_arn": Key("featureStoreReadPolicyArn",
                                         "Managed policy: least-privilege read of the feature store.",
                                         when=lambda c: c.feature_store.enabled),
    "feature_store_group_names": Key("featureStoreFeatureGroupNames", "SageMaker feature group names, by group.",
                                     when=lambda c: c.feature_store.enabled and c.feature_store.engine == "sagemaker"),
    "feature_store_registry": Key("featureStoreRegistryPath", "Feast registry path.", when=_feast),
    "feature_store_yaml": Key("featureStoreFeatureStoreYaml", "Feast `feature_store.yaml` (no secrets; a SQL "
                                "registry and Redis (RBAC) are read with the namespace's `feast-credentials` logins).",
                                when=_feast),
    "feature_store_url": Key("featureStoreFeatureServerUrl", "Feature server URL inside the cluster.", when=_feast),
    "feature_store_online_tables": Key("featureStoreOnlineTableNames", "Feast online DynamoDB tables.",
                                       when=lambda c: c.feast is not None and c.feast.online.type == "dynamodb"),
    "feature_store_online_endpoint": Key("featureStoreOnlineEndpoint", "Feast online Redis endpoint.",
                                         when=lambda c: c.feast is not None and c.feast.online.type == "redis"),
    "mlflow_tracking_uri": Key("mlflowTrackingUri", "MLflow tracking URI inside the cluster.", when=_mlflow),
    "model_registry_db_endpoint": Key("modelRegistryDbEndpoint", "MLflow database endpoint (host:port).", when=_mlflow),
    "model_artifact_bucket": Key("modelArtifactBucket", "Model artifact bucket.",
                                 when=lambda c: c.model_registry.enabled),
    "model_artifact_write_policy_arn": Key("modelArtifactWritePolicyArn",
                                           "Managed policy: log models (write artifacts under the artifact prefix).",
                                           when=lambda c: c.model_registry.enabled),
    "alert_topic_arn": Key("alertTopicArn", "SNS topic every alert goes to.", when=lambda c: c.monitoring.enabled),
    "pushgateway_url": Key("pushgatewayUrl", "Prometheus Pushgateway URL inside the cluster (batch job metrics).",
                           when=lambda c: c.monitoring.enabled),
    "audit_trail_arn": Key("auditTrailArn", "CloudTrail trail ARN.",
                           when=lambda c: c.security_baseline.enabled and c.security_baseline.cloudtrail),
    "guard_duty_detector_id": Key("guardDutyDetectorId", "GuardDuty detector id.",
                                  when=lambda c: c.security_baseline.enabled and c.security_baseline.guardduty),
    "team_workspace": Key("teamWorkspace", "What a team workspace needs to be treated as a platform team: its "
                          "namespace's labels (admitted by the services' NetworkPolicies) and Pod Security level, and "
                          "the egress rules the teams' default-deny egress guard allows (`egressRules`, NetworkPolicy "
                          "egress rules; `[{}]`, all egress, when not guarded), and the GPU software its own pool "
                          "relies on (tolerated taints, EFA plugin, autoscaler).",
                          required=False),
}


def add_on_keys() -> tuple[Key, ...]:
    """Keys the add-on concerns declare (each in its own package: `OUTPUTS` beside its `wiring.build`)."""
    from .platform.addons import add_on_keys as declared  # imports the add-ons' wiring modules

    return declared()


def all_keys() -> tuple[Key, ...]:
    keys = (*CONTRACT.values(), *add_on_keys())
    seen: set[str] = set()
    for key in keys:
        if key.output in seen:
            raise ValueError(f"the output contract declares {key.output!r} twice")
        seen.add(key.output)
    return keys


def exported_keys(config: PlatformConfig) -> set[str]:
    """Exactly the outputs a platform stack of `config` exports (core and add-ons)."""
    return {k.output for k in all_keys() if k.exported(config)}


def checked(keys: Iterable[Key], config: PlatformConfig, values: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """`values` (output name -> value, None for "not exported") as stack outputs, checked against the contract:
    a value for every key exported with `config`, and for no other."""
    declared = {k.output: k for k in keys}
    unknown = sorted(set(values) - set(declared))
    missing = sorted(o for o, k in declared.items() if k.exported(config) and values.get(o) is None)
    extra = sorted(o for o, k in declared.items() if not k.exported(config) and values.get(o) is not None)
    if unknown or missing or extra:
        raise ValueError(f"{owner}: outputs break the contract (undeclared {unknown}, missing {missing}, "
                         f"not expected with this config {extra})")
    return {o: values[o] for o, k in declared.items() if k.exported(config)}


def core_outputs(config: PlatformConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """The core outputs from `values` keyed by contract attribute (`CONTRACT`'s keys)."""
    unknown = sorted(set(values) - set(CONTRACT))
    if unknown:
        raise ValueError(f"not in the output contract: {unknown}")
    by_output = {CONTRACT[attr].output: value for attr, value in values.items()}
    return checked(CONTRACT.values(), config, by_output, "MlopsPlatform")


class TeamWorkspaceTerms(TypedDict):
    """The `teamWorkspace` output as a consumer reads it (platform/team_workspace.py `workspace_terms` builds it)."""

    namespaceLabels: dict[str, str]
    podSecurityLevel: Literal["restricted", "baseline", "privileged"]
    egressRules: list[dict[str, Any]]
    """Kubernetes NetworkPolicy egress rules (camelCase) allowed on top of default-deny; `[{}]`: all egress."""
    gpuSoftware: dict[str, Any] | None
    credentials: dict[str, dict[str, Any]]
    """By workspace namespace the platform lists: its store identity and secrets (platform/workspace_credentials.py)."""


@dataclass(frozen=True)
class PlatformOutputs:
    """A platform stack's outputs, typed (`CONTRACT`'s attributes); `add_ons` holds the add-ons' outputs by name."""

    environment: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    cluster_endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    workload_identity: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str | None]
    oidc_issuer: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str | None]
    private_subnet_ids: pulumi.Output[list[str]]
    cluster_security_group_id: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    cluster_kms_key_arn: pulumi.Output[str]
    shared_bucket_name: pulumi.Output[str]
    data_key_arn: pulumi.Output[str]
    feature_store_offline_bucket: pulumi.Output[str | None]
    feature_store_kms_key_arn: pulumi.Output[str | None]
    feature_store_read_policy_arn: pulumi.Output[str | None]
    feature_store_group_names: pulumi.Output[dict[str, str] | None]
    feature_store_registry: pulumi.Output[str | None]
    feature_store_yaml: pulumi.Output[str | None]
    feature_store_url: pulumi.Output[str | None]
    feature_store_online_tables: pulumi.Output[list[str] | None]
    feature_store_online_endpoint: pulumi.Output[str | None]
    mlflow_tracking_uri: pulumi.Output[str | None]
    model_registry_db_endpoint: pulumi.Output[str | None]
    model_artifact_bucket: pulumi.Output[str | None]
    model_artifact_write_policy_arn: pulumi.Output[str | None]
    alert_topic_arn: pulumi.Output[str | None]
    pushgateway_url: pulumi.Output[str | None]
    audit_trail_arn: pulumi.Output[str | None]
    guard_duty_detector_id: pulumi.Output[str | None]
    team_workspace: pulumi.Output[TeamWorkspaceTerms | None]
    add_ons: Mapping[str, pulumi.Output[Any]]

    @classmethod
    def from_stack_reference(cls, ref: pulumi.StackReference) -> PlatformOutputs:
        """Every contract output of a platform stack; a missing required output fails the consumer's preview."""
        def read(key: Key) -> pulumi.Output[Any]:
            return ref.require_output(key.output) if key.must_exist else ref.get_output(key.output)

        values: dict[str, Any] = {attr: read(key) for attr, key in CONTRACT.items()}
        return cls(**values, add_ons={k.output: read(k) for k in add_on_keys()})

    def field_names(self) -> list[str]:
        return [f.name for f in fields(self)]


def contract_table() -> str:
    """Markdown table of the contract, for the README."""
    rows = ["| output | description | always present |", "|---|---|---|"]
    rows += [f"| `{k.output}` | {k.description} | {'yes' if k.always else 'no'} |" for k in all_keys()]
    return "\n".join(rows)
