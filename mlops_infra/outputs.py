"""The platform stack's outputs: one typed contract that the platform exports and consumer stacks read.

The core keys are `CONTRACT`, here; each add-on declares its own (`AddOn.outputs`, listed by
platform/installed.py) with `Key` from mlops_infra.platform.output_key (re-exported here), which imports no add-on.
A key's `when` says for which config the platform exports it; `exported_keys(config)` is exactly the set a stack of
that config exports (tests/platform/test_output_contract.py proves the equality per environment). Keys never change
once released. `PlatformOutputs.from_stack_reference(ref)` reads them back in a consumer stack: its attributes are
generated from `CONTRACT`, so none can drift from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import pulumi

from .blocks.stack_outputs import require_output
from .platform.installed import add_on_keys
from .platform.output_key import Key, checked

if TYPE_CHECKING:
    from .platform.config import PlatformConfig

__all__ = ["CONTRACT", "Key", "PlatformOutputs", "TeamWorkspaceTerms", "add_on_keys", "all_keys", "checked",
           "contract_table", "core_outputs", "exported_keys"]


def _irsa(c: PlatformConfig) -> bool:
    return c.cluster.workload_identity == "irsa"


def _feast(c: PlatformConfig) -> bool:
    return c.feature_store.enabled and c.feature_store.engine == "feast"


def _mlflow(c: PlatformConfig) -> bool:
    return c.model_registry.enabled and c.model_registry.engine == "mlflow"


def _external_secrets(c: PlatformConfig) -> bool:
    return (c.security_baseline.enabled and c.security_baseline.external_secrets) or c.cluster.external_secrets_store is not None


CONTRACT: dict[str, Key] = {
    "environment": Key("environment", "`dev`, `staging` or `prod`."),
    "cluster_name": Key("clusterName", "EKS cluster name."),
    "cluster_endpoint": Key("clusterEndpoint", "EKS API server endpoint."),
    "kubeconfig": Key("kubeconfig", "Kubeconfig for the cluster (exec auth with `aws eks get-token`). Secret.", secret=True),
    "workload_identity": Key("workloadIdentity", "`irsa` or `podIdentity`: how workloads get AWS credentials."),
    "oidc_provider_arn": Key("oidcProviderArn", "IAM OIDC provider ARN (IRSA only).", when=_irsa,
                            producer="cluster.workloadIdentity: irsa"),
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
    # What the cluster runs, for components on it in another stack (ClusterRefs.from_stack_outputs): added after a
    # release, so older platform stacks lack them (required=False).
    "cluster_version": Key("clusterVersion", "EKS Kubernetes version (`cluster.version`, e.g. `1.35`).",
                           required=False),
    "load_balancer_controller": Key("loadBalancerController", "The AWS Load Balancer Controller runs (`alb` "
                                    "Ingresses get an ALB).", required=False),
    "network_policy_enforced": Key("networkPolicyEnforced", "The VPC CNI enforces NetworkPolicies.", required=False),
    "container_insights": Key("containerInsights", "Container Insights runs (its metrics and log groups exist).",
                              required=False),
    "metrics_server": Key("metricsServer", "metrics-server runs (HorizontalPodAutoscalers get CPU and memory).",
                          required=False),
    "service_ipv4_cidr": Key("serviceIpv4Cidr", "The cluster's Service CIDR (`\"\"`: the EKS default of the "
                             "cluster).", required=False),
    "storage_classes": Key("storageClasses", "StorageClasses the platform creates; the first is the default.",
                           required=False),
    "interface_endpoints": Key("vpcInterfaceEndpoints", "AWS services with an interface endpoint (private DNS) in "
                               "the VPC, e.g. `sts`: pods behind an egress policy reach them at the VPC CIDR.",
                               required=False),
    # Added after a release too (required=False): what components alone on the platform's cluster and VPC rely on.
    "external_secrets_store": Key("externalSecretsStore", "The ClusterSecretStore of the External Secrets operator "
                                  "the platform installs, or that another stack's serves (cluster.externalSecretsStore): "
                                  "the operator and its `external-secrets.io/v1` CRDs run "
                                  "(a component alone creates its own namespaced SecretStores).",
                                  when=_external_secrets, required=False),
}

# Serving and data components alone on the platform's cluster (review of #29, findings 2, 4 and 5): added after a
# release, so older platform stacks lack them (required=False; the refs read None then).
CONTRACT.update({
    "model_artifact_key_arn": Key("modelArtifactKeyArn", "KMS key of the model artifact bucket's objects (the "
                                  "registry's own key): what a model server or endpoint decrypts with.",
                                  when=lambda c: c.model_registry.enabled, required=False),
    "system_node_disk_gib": Key("systemNodeDiskGib", "Root volume of a system node (GiB, "
                                "`cluster.systemNodes.diskSizeGib`): what a pod there can request as ephemeral "
                                "storage.", required=False),
})

_ESO_PRODUCER = ("securityBaseline.enabled: true with securityBaseline.externalSecrets: true, or (an operator another "
                "stack installed) externalSecrets in cluster.addOnsInstalledElsewhere with cluster.externalSecretsStore")
_FEAST, _MLFLOW = "featureStore.enabled: true (engine feast, the default)", "modelRegistry.enabled: true (engine mlflow, the default)"
_PRODUCERS = {
    "feature_store_offline_bucket": "featureStore.enabled: true", "feature_store_kms_key_arn": "featureStore.enabled: true",
    "feature_store_read_policy_arn": "featureStore.enabled: true",
    "feature_store_group_names": "featureStore.engine: sagemaker", "feature_store_registry": _FEAST,
    "feature_store_yaml": _FEAST, "feature_store_url": _FEAST,
    "feature_store_online_tables": "featureStore.online.type: dynamodb (engine feast)",
    "feature_store_online_endpoint": "featureStore.online.type: redis (engine feast)",
    "mlflow_tracking_uri": _MLFLOW, "model_registry_db_endpoint": _MLFLOW,
    "model_artifact_bucket": "modelRegistry.enabled: true", "model_artifact_write_policy_arn": "modelRegistry.enabled: true",
    "model_artifact_key_arn": "modelRegistry.enabled: true",
    "alert_topic_arn": "monitoring.enabled: true", "pushgateway_url": "monitoring.enabled: true",
    "audit_trail_arn": "securityBaseline.enabled: true with securityBaseline.cloudtrail: true",
    "guard_duty_detector_id": "securityBaseline.enabled: true with securityBaseline.guardduty: true",
    "external_secrets_store": _ESO_PRODUCER,
}
CONTRACT.update({attr: replace(CONTRACT[attr], producer=text) for attr, text in _PRODUCERS.items()})

# Who else is on the cluster and VPC, for components of another stack (review of issue 29, findings 5 and 6; read by
# ClusterRefs / NetworkRefs.from_stack_outputs): added after a release, so older platform stacks lack them.
_GUARDED = "securityBaseline.exfiltrationGuards: true"
CONTRACT.update({
    "platform_namespaces": Key("platformNamespaces", "Namespaces the platform creates on its cluster (engines, "
                               "services, teams): a component of another stack neither creates nor shares one.",
                               required=False),
    "consumer_bucket_prefixes": Key("consumerBucketPrefixes", "The VPC's S3 gateway endpoint is guarded: it admits "
                                    "consumer stacks' buckets named `<prefix>-*` for these prefixes only "
                                    "(securityBaseline.consumerBucketPrefixes; `[]`: none). Absent on a VPC made "
                                    "elsewhere, whose endpoint policy the platform does not write.", required=False,
                                    when=lambda c: c.security_baseline.enabled and c.security_baseline.exfiltration_guards
                                    and c.network.existing_vpc is None,
                                    producer=f"{_GUARDED} on a VPC it creates (no network.existingVpc)"),
})


def _s3_gateway_endpoint(c: PlatformConfig) -> bool:
    return c.network.existing_vpc is None or c.network.existing_vpc.s3_gateway_endpoint_id is not None


# What the cluster runs of the cluster-wide singletons, and the VPC's S3 gateway endpoint: read by
# ClusterRefs/NetworkRefs.from_stack_outputs in consumer stacks; added after a release (required=False).
CONTRACT.update({
    "cluster_add_ons": Key("clusterAddOns", "The cluster-wide singletons the platform's cluster runs: those the platform "
                           "installed and those `cluster.addOnsInstalledElsewhere` lists (another stack's) "
                           "(mlops_infra.blocks.cluster_add_ons.ADD_ONS: e.g. `clusterAutoscaler`, `gpuSoftware`, "
                           "`monitoring`, `externalSecrets`): a component refuses to install one a second time, "
                           "unless its stack owns it (`clusterAddOnOwners`).",
                           required=False),
    "cluster_add_on_owners": Key("clusterAddOnOwners", "The stack that owns each add-on of `clusterAddOns` (add-on -> "
                                 "`<organization>/<project>/<stack>`; `<project>/<stack>` only for this stack when "
                                 "the engine knows no organization): this stack for its own "
                                 "installs, the owner `cluster.addOnsInstalledElsewhere` names for another stack's "
                                 "(none for the list form). The owning stack's components may install it again, so "
                                 "its next `pulumi up` keeps it (blocks/cluster_add_ons.claim).", required=False),
    "s3_gateway_endpoint_id": Key("vpcS3GatewayEndpointId", "The VPC's S3 gateway endpoint (a consumer stack's "
                                  "exfiltration guards: data buckets admit only requests through it).",
                                  when=_s3_gateway_endpoint, required=False,
                                  producer="network.existingVpc.s3GatewayEndpointId (a VPC the platform makes has one)"),
})


def _egress_guarded(c: PlatformConfig) -> bool:
    return c.security_baseline.enabled and c.security_baseline.exfiltration_guards


# The teams' egress guard, for a component alone that grants a client namespace (third review of #29, finding 2;
# read by ClusterRefs.from_stack_outputs): added after a release (required=False).
CONTRACT.update({
    "egress_guarded_namespaces": Key("egressGuardedNamespaces", "Namespaces whose pods the exfiltration guards hold "
                                     "to default-deny egress (`allow-platform-egress`): the teams', and the team "
                                     "workspaces `cluster.workspaces` lists (they apply the same rules). A Service of "
                                     "another stack is reachable from them only on a port `consumerServicePorts` "
                                     "lists.", when=_egress_guarded, required=False, producer=_GUARDED),
    "consumer_service_ports": Key("consumerServicePorts", "The other stacks' Service ports (`{namespace, port}`, the "
                                  "pod's port) the guarded namespaces' egress admits "
                                  "(securityBaseline.consumerServicePorts; `[]`: none).", when=_egress_guarded,
                                  required=False, producer=_GUARDED),
    # Which stack writes each guard (review of components alone, finding 2): the platform the teams', each team
    # workspace stack its own namespace's (from `teamWorkspace.egressRules`, at its own `pulumi up`).
    "egress_guarded_workspaces": Key("egressGuardedWorkspaces", "Of `egressGuardedNamespaces`, the team workspaces "
                                     "(`cluster.workspaces`): their guard is written by the workspace stack, from "
                                     "`teamWorkspace.egressRules` at its own `pulumi up`, not by the platform.",
                                     when=_egress_guarded, required=False, producer=_GUARDED),
})

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


class PlatformOutputs:
    """A platform stack's outputs as a consumer reads them: one attribute per `CONTRACT` entry, named by its key
    there (`outputs.cluster_name` is the `clusterName` output), and `add_ons`, the add-ons' outputs by output name.

    Generated from the contract: a key added to `CONTRACT` is an attribute here, with nothing to keep in step. Each
    attribute is a `pulumi.Output` (the value `None` when the stack does not export a key that is not required)."""

    add_ons: Mapping[str, pulumi.Output[Any]]

    def __init__(self, core: Mapping[str, pulumi.Output[Any]], add_ons: Mapping[str, pulumi.Output[Any]]) -> None:
        if set(core) != set(CONTRACT):
            raise ValueError(f"PlatformOutputs: not the contract's keys (missing {sorted(set(CONTRACT) - set(core))}, "
                             f"unknown {sorted(set(core) - set(CONTRACT))})")
        self._core = dict(core)
        self.add_ons = dict(add_ons)

    def __getattr__(self, name: str) -> pulumi.Output[Any]:
        core: dict[str, pulumi.Output[Any]] = self.__dict__.get("_core", {})
        if name in core:
            return core[name]
        raise AttributeError(f"PlatformOutputs has no {name!r}: the output contract's keys are {sorted(CONTRACT)} "
                             "(mlops_infra.outputs.CONTRACT)")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *CONTRACT})

    @classmethod
    def from_stack_reference(cls, ref: pulumi.StackReference) -> PlatformOutputs:
        """Every contract output of a platform stack; a missing required output fails the consumer's preview."""
        def read(key: Key) -> pulumi.Output[Any]:
            return require_output(ref, key.output, key.producer) if key.must_exist else ref.get_output(key.output)

        return cls({attr: read(key) for attr, key in CONTRACT.items()},
                   add_ons={k.output: read(k) for k in add_on_keys()})

    @classmethod
    def field_names(cls) -> list[str]:
        return [*CONTRACT, "add_ons"]


def contract_table() -> str:
    """Markdown table of the contract, for the README."""
    rows = ["| output | description | always present |", "|---|---|---|"]
    rows += [f"| `{k.output}` | {k.description} | {'yes' if k.always else 'no'} |" for k in all_keys()]
    return "\n".join(rows)
