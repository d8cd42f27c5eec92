"""The whole platform's config, read from the stack's `mlops:platform` structured config value."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field

from ..compute.config import ClusterConfig
from ..compute.gpu_config import GpuPlatformConfig, GpuPoolConfig
from ..features.config import FeatureStoreConfig
from ..network.config import NetworkConfig
from ..observability.config import MonitoringConfig
from ..registry.config import INGRESS_NEEDS, ModelRegistryConfig
from ..security.config import SecurityBaselineConfig
from .base import ConfigModel, Problem
from .budget import BudgetConfig
from .environments import Environment
from .types import AwsRegion, ResourceName

DataClassification = Literal["public", "internal", "confidential", "restricted"]


class TagsConfig(ConfigModel):
    """Cost and ownership tags. Components pass them explicitly; nothing is injected behind your back."""

    owner: str = Field(..., min_length=1, description="Owning team or person. Required.")
    cost_center: str = Field(..., min_length=1, description="Cost center code. Required.")
    data_classification: DataClassification = Field("internal", description="Data classification. Default: internal.")
    extra: dict[str, str] = Field(default_factory=dict, description="Additional tags. Default: none.")

    def for_environment(self, environment: str) -> dict[str, str]:
        """The tag set every resource carries: the four required keys plus `extra`."""
        return {
            **self.extra,
            "owner": self.owner,
            "cost-center": self.cost_center,
            "environment": environment,
            "data-classification": self.data_classification,
        }


class PlatformConfig(ConfigModel):
    """Top-level platform config. Environment profiles (see `environments.py`) fill unset keys."""

    environment: Environment = Field(..., description="dev, staging or prod; selects the profile. Required.")
    name: ResourceName = Field("mlops", description="Prefix for resource names. Default: mlops.")
    region: AwsRegion = Field("us-east-1", description="AWS region. Default: us-east-1.")
    tags: TagsConfig = Field(..., description="Cost and ownership tags. Required.")
    protect_stateful: bool = Field(
        True, description="Pulumi `protect` and `retainOnDelete` on stateful resources. Default: true "
        "(profiles: dev/staging false).")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="VPC.")
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="EKS cluster.")
    gpu: GpuPlatformConfig = Field(default_factory=GpuPlatformConfig, description="GPU provisioning and software.")
    gpu_pools: list[GpuPoolConfig] = Field(default_factory=list, description="GPU node pools. Default: none.")
    feature_store: FeatureStoreConfig = Field(default_factory=FeatureStoreConfig, description="Feature store.")
    model_registry: ModelRegistryConfig = Field(default_factory=ModelRegistryConfig, description="Model registry.")
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig, description="Monitoring stack.")
    security_baseline: SecurityBaselineConfig = Field(
        default_factory=SecurityBaselineConfig, description="Security baseline.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig,
                                 description="Monthly cost ceilings and cost-estimate assumptions (`mlops-infra cost`).")

    @property
    def resource_tags(self) -> dict[str, str]:
        return self.tags.for_environment(self.environment)

    @property
    def namespaces(self) -> set[str]:
        """Kubernetes namespaces the platform creates."""
        names = {t.name for t in self.cluster.teams}
        if self.feature_store.enabled and self.feature_store.engine == "feast":
            names.add(self.feature_store.namespace)
        if self.model_registry.enabled and self.model_registry.engine == "mlflow":
            names.add(self.model_registry.namespace)
        if self.monitoring.enabled:
            names.add(self.monitoring.namespace)
        return names

    def secret_refs(self) -> Iterable[tuple[str, str]]:
        """(config path, config key) of every reference to a secret config key."""
        recv = self.monitoring.receivers
        if recv.slack_webhook_secret:
            yield "monitoring.receivers.slackWebhookSecret", recv.slack_webhook_secret
        if recv.pagerduty_key_secret:
            yield "monitoring.receivers.pagerdutyKeySecret", recv.pagerduty_key_secret
        if self.model_registry.ingress.oidc_client_secret:
            yield "modelRegistry.ingress.oidcClientSecret", self.model_registry.ingress.oidc_client_secret
        for i, sec in enumerate(self.security_baseline.integration_secrets):
            yield f"securityBaseline.integrationSecrets[{i}].configKey", sec.config_key

    def problems(self) -> Iterable[Problem]:
        seen: set[str] = set()
        for i, pool in enumerate(self.gpu_pools):
            if pool.name in seen:
                yield f"gpuPools[{i}].name", f"duplicate pool name {pool.name!r}"
            seen.add(pool.name)
            if pool.efa and self.gpu.provisioner == "karpenter":
                yield f"gpuPools[{i}].efa", "EFA placement groups need provisioner managedNodeGroups"
        known = self.namespaces
        for i, sec in enumerate(self.security_baseline.integration_secrets):
            for j, ns in enumerate(sec.namespaces):
                if ns not in known:
                    yield (f"securityBaseline.integrationSecrets[{i}].namespaces[{j}]",
                           f"unknown namespace {ns!r} (known: {', '.join(sorted(known)) or 'none'})")
        if self.cluster.public_access_cidrs and not self.cluster.endpoint_public_access:
            yield "cluster.publicAccessCidrs", "set, but endpointPublicAccess is false"
        yield from cluster_network_problems(self.cluster, self.network)
        yield from guard_network_problems(self.security_baseline, self.network, self.cluster)
        reg = self.model_registry
        if reg.enabled and reg.engine == "mlflow" and reg.ingress.enabled and not self.cluster.load_balancer_controller:
            yield "modelRegistry.ingress.enabled", INGRESS_NEEDS
        private = len(self.network.existing_vpc.private_subnet_ids) if self.network.existing_vpc else self.network.az_count
        for path, msg in self.feature_store.network_problems(private):
            yield f"featureStore.{path}", msg

    def context_problems(self, context: Mapping[str, Any]) -> Iterable[Problem]:
        secret_keys = context.get("secret_keys")
        if secret_keys is None:  # validating without a stack: nothing to check against
            return
        for path, key in self.secret_refs():
            if key not in secret_keys:
                yield path, f"config key 'mlops:{key}' is not set as a secret (pulumi config set --secret {key} ...)"


# Checks across concerns live here, with the config that composes them (concern configs import no other concern).
def cluster_network_problems(cluster: ClusterConfig, network: NetworkConfig) -> Iterable[Problem]:
    """Checks across `cluster` and `network` (paths from the platform root): CIDRs that must not overlap the VPC."""
    vpc = ipaddress.ip_network(network.vpc_cidr)
    if cluster.endpoint_public_access:
        for i, cidr in enumerate(cluster.public_access_cidrs):
            net = ipaddress.ip_network(cidr)
            if net.version == 4 and net.prefixlen > 0 and net.overlaps(vpc):
                yield (f"cluster.publicAccessCidrs[{i}]",
                       f"{cidr} overlaps the VPC CIDR {network.vpc_cidr} (the public endpoint only sees public "
                       "source addresses; in-VPC clients use the private endpoint)")
    if cluster.service_ipv4_cidr is not None and ipaddress.ip_network(cluster.service_ipv4_cidr).overlaps(vpc):
        yield "cluster.serviceIpv4Cidr", f"{cluster.service_ipv4_cidr} overlaps the VPC CIDR {network.vpc_cidr}"


def effective_deployer_role_arns(security: SecurityBaselineConfig, cluster: ClusterConfig) -> list[str]:
    """`securityBaseline.deployerRoleArns`, else `cluster.adminRoleArns` (the documented default)."""
    if security.deployer_role_arns is not None:
        return list(security.deployer_role_arns)
    return list(cluster.admin_role_arns)


def guard_network_problems(security: SecurityBaselineConfig, network: NetworkConfig,
                           cluster: ClusterConfig) -> Iterable[Problem]:
    """What exfiltration guards need from the network: the S3 gateway endpoint the data buckets admit, and STS
    inside the VPC for IRSA pods behind egress NetworkPolicies (a policy cannot admit STS's public addresses)."""
    if not (security.enabled and security.exfiltration_guards):
        return
    if not effective_deployer_role_arns(security, cluster):
        yield ("securityBaseline.deployerRoleArns",
               "required when exfiltrationGuards is true and cluster.adminRoleArns is empty: the role that runs "
               "`pulumi up` must be exempt from the data buckets' VPC-endpoint condition, or it cannot read or change "
               "them")
    existing = network.existing_vpc
    if existing is not None and existing.s3_gateway_endpoint_id is None:
        yield ("network.existingVpc.s3GatewayEndpointId",
               "required when securityBaseline.exfiltrationGuards is true (data buckets deny S3 access that does not "
               "come through this endpoint)")
    if existing is None and cluster.workload_identity == "irsa" and cluster.endpoint_public_access:
        yield ("securityBaseline.exfiltrationGuards",
               "IRSA pods in ML namespaces reach STS only through the VPC's STS interface endpoint, which the "
               "platform creates for a private cluster: set cluster.endpointPublicAccess false or "
               "cluster.workloadIdentity podIdentity")
