"""EKS cluster config: version, endpoint access, identity, add-ons, system nodes and training foundations."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from .base import ConfigModel, Problem
from .types import ChartVersion, Cidr, IamRoleArn, K8sName, LogRetentionDays
from .versions import DEFAULT_EKS_VERSION, SUPPORTED_EKS_VERSIONS

WorkloadIdentityMode = Literal["irsa", "podIdentity"]
TrainingOperator = Literal["kubeflow", "kuberay", "none"]


class AddonVersions(ConfigModel):
    """Managed add-on versions, pinned (`aws eks describe-addon-versions --kubernetes-version 1.35`)."""

    vpc_cni: str = Field("v1.20.4-eksbuild.2", description="vpc-cni version. Default: v1.20.4-eksbuild.2.")
    coredns: str = Field("v1.12.4-eksbuild.1", description="coredns version. Default: v1.12.4-eksbuild.1.")
    kube_proxy: str = Field("v1.35.0-eksbuild.2", description="kube-proxy version. Default: v1.35.0-eksbuild.2.")
    ebs_csi_driver: str = Field(
        "v1.53.0-eksbuild.1", description="aws-ebs-csi-driver version. Default: v1.53.0-eksbuild.1."
    )
    pod_identity_agent: str = Field(
        "v1.3.10-eksbuild.1", description="eks-pod-identity-agent version. Default: v1.3.10-eksbuild.1."
    )

    def problems(self) -> Iterable[Problem]:
        for name, value in self.model_dump(by_alias=True).items():
            if not value.startswith("v") or "-eksbuild." not in value:
                yield name, f"must be an EKS add-on version like v1.2.3-eksbuild.1 (got {value!r})"


class SystemNodesConfig(ConfigModel):
    """The small on-demand node group that runs cluster add-ons and operators."""

    instance_types: list[str] = Field(["m7i.large"], min_length=1, description="Instance types. Default: [m7i.large].")
    min_size: int = Field(2, ge=1, le=20, description="Minimum nodes. Default: 2.")
    desired_size: int | None = Field(None, description="Desired nodes. Default: minSize.")
    max_size: int = Field(4, ge=1, le=50, description="Maximum nodes. Default: 4.")
    disk_size_gib: int = Field(50, ge=20, le=1000, description="Root volume size (GiB). Default: 50.")

    @property
    def effective_desired_size(self) -> int:
        return self.desired_size if self.desired_size is not None else self.min_size

    def problems(self) -> Iterable[Problem]:
        if self.max_size < self.min_size:
            yield "maxSize", f"must be >= minSize ({self.max_size} < {self.min_size})"
        if self.desired_size is not None and not self.min_size <= self.desired_size <= self.max_size:
            yield "desiredSize", f"must be between minSize and maxSize ({self.desired_size} not in {self.min_size}..{self.max_size})"


class TeamConfig(ConfigModel):
    """A team namespace with a GPU quota."""

    name: K8sName = Field(..., description="Namespace name (RFC 1123). Required.")
    gpu_quota: int = Field(8, ge=0, le=1024, description="Quota on requests.nvidia.com/gpu. Default: 8.")


class TrainingOperatorConfig(ConfigModel):
    """The training operator, installed as a pinned Helm release."""

    kind: TrainingOperator = Field("kubeflow", description="kubeflow, kuberay or none. Default: kubeflow.")
    version: ChartVersion = Field("1.9.2", description="Chart version. Default: 1.9.2 (kubeflow); set for kuberay.")


class ClusterConfig(ConfigModel):
    """The EKS training cluster."""

    version: str = Field(
        DEFAULT_EKS_VERSION,
        description=f"EKS Kubernetes minor version, one of {', '.join(SUPPORTED_EKS_VERSIONS)}. "
        f"Default: {DEFAULT_EKS_VERSION}.",
    )
    endpoint_public_access: bool = Field(
        False, description="Expose the API endpoint publicly (restricted to publicAccessCidrs). "
        "Default: false (profiles: dev/staging true). The private endpoint is always on.",
    )
    public_access_cidrs: list[Cidr] = Field(
        default_factory=list, description="CIDRs allowed to reach a public endpoint. Default: none; "
        "required when endpointPublicAccess is true.",
    )
    authentication_mode: Literal["API", "API_AND_CONFIG_MAP"] = Field(
        "API", description="Cluster access mode. Default: API (access entries only)."
    )
    admin_role_arns: list[IamRoleArn] = Field(
        default_factory=list, description="IAM roles granted cluster admin through access entries. Default: none."
    )
    workload_identity: WorkloadIdentityMode = Field(
        "irsa", description="How pods get AWS credentials: irsa or podIdentity. Default: irsa."
    )
    log_retention_days: LogRetentionDays = Field(
        365, description="Control-plane log retention in days. Default: 365 (profiles: dev 30, staging 90)."
    )
    addons: AddonVersions = Field(default_factory=AddonVersions, description="Managed add-on versions.")
    system_nodes: SystemNodesConfig = Field(default_factory=SystemNodesConfig, description="System node group.")
    teams: list[TeamConfig] = Field(default_factory=list, description="Team namespaces. Default: none.")
    training_operator: TrainingOperatorConfig = Field(
        default_factory=TrainingOperatorConfig, description="Training operator Helm release."
    )

    def problems(self) -> Iterable[Problem]:
        if self.version not in SUPPORTED_EKS_VERSIONS:
            yield "version", f"unsupported EKS version {self.version!r} (supported: {', '.join(SUPPORTED_EKS_VERSIONS)})"
        if self.endpoint_public_access:
            if not self.public_access_cidrs:
                yield "publicAccessCidrs", "required when endpointPublicAccess is true"
            for i, cidr in enumerate(self.public_access_cidrs):
                if ipaddress.ip_network(cidr).prefixlen == 0:
                    yield f"publicAccessCidrs[{i}]", f"must not allow the whole internet ({cidr})"
        seen: set[str] = set()
        for i, team in enumerate(self.teams):
            if team.name in seen:
                yield f"teams[{i}].name", f"duplicate team {team.name!r}"
            seen.add(team.name)
