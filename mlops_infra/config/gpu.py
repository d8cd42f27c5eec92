"""GPU node pools and the GPU software that runs on them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from .base import ConfigModel, Problem
from .instances import GPU_FAMILIES, GPU_INSTANCES, family_of, is_gpu_instance
from .types import ChartVersion, K8sName

AmiType = Literal["AL2023_x86_64_NVIDIA", "AL2023_ARM_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA",
                  "BOTTLEROCKET_ARM_64_NVIDIA"]
AMI_ARCH: dict[str, str] = {
    "AL2023_x86_64_NVIDIA": "x86_64", "BOTTLEROCKET_x86_64_NVIDIA": "x86_64",
    "AL2023_ARM_64_NVIDIA": "arm64", "BOTTLEROCKET_ARM_64_NVIDIA": "arm64",
}
CapacityType = Literal["SPOT", "ON_DEMAND"]
TaintEffect = Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"]


class TaintConfig(ConfigModel):
    key: str = Field("nvidia.com/gpu", description="Taint key. Default: nvidia.com/gpu.")
    value: str = Field("true", description="Taint value. Default: \"true\".")
    effect: TaintEffect = Field("NO_SCHEDULE", description="Taint effect (EKS API spelling). Default: NO_SCHEDULE.")


class GpuPoolConfig(ConfigModel):
    """One EKS managed node group (or Karpenter NodePool) of GPU instances."""

    name: K8sName = Field(..., description="Pool name; used in resource names and the pool label. Required.")
    instance_types: list[str] = Field(..., min_length=1, description="GPU instance types. Required.")
    capacity_type: CapacityType = Field("ON_DEMAND", description="SPOT or ON_DEMAND. Default: ON_DEMAND.")
    min_size: int = Field(0, ge=0, le=1000, description="Minimum nodes; 0 scales to zero. Default: 0.")
    desired_size: int | None = Field(None, ge=0, description="Initial desired nodes. Default: minSize.")
    max_size: int = Field(..., ge=1, le=1000, description="Maximum nodes. Required.")
    ami_type: AmiType = Field("AL2023_x86_64_NVIDIA", description="NVIDIA AMI type. Default: AL2023_x86_64_NVIDIA.")
    taint: TaintConfig = Field(default_factory=TaintConfig, description="The GPU taint. Default: nvidia.com/gpu NoSchedule.")
    root_volume_gib: int = Field(100, ge=50, le=16384, description="Encrypted gp3 root volume (GiB). Default: 100.")
    metadata_hop_limit: Literal[1, 2] = Field(
        1, description="IMDSv2 hop limit. Default: 1. Use 2 only for pods on the host network that need IMDS.",
    )
    efa: bool = Field(False, description="Enable EFA with a cluster placement group. Default: false.")
    node_repair: bool = Field(True, description="EKS node auto repair. Default: true.")

    @property
    def effective_desired_size(self) -> int:
        return self.desired_size if self.desired_size is not None else self.min_size

    @property
    def total_gpus_at_max(self) -> int:
        per_node = max((GPU_INSTANCES[t].gpus for t in self.instance_types if t in GPU_INSTANCES), default=1)
        return per_node * self.max_size

    def problems(self) -> Iterable[Problem]:
        for i, itype in enumerate(self.instance_types):
            if not is_gpu_instance(itype):
                yield (f"instanceTypes[{i}]",
                       f"{itype!r} is not a GPU instance type (families: {', '.join(sorted(GPU_FAMILIES))})")
            elif GPU_FAMILIES[family_of(itype)] != AMI_ARCH[self.ami_type]:
                yield (f"instanceTypes[{i}]", f"{itype!r} is {GPU_FAMILIES[family_of(itype)]}, "
                       f"but amiType {self.ami_type} is {AMI_ARCH[self.ami_type]}")
            elif self.efa and not (itype in GPU_INSTANCES and GPU_INSTANCES[itype].efa):
                yield f"instanceTypes[{i}]", f"{itype!r} does not support EFA (efa: true)"
        if len(set(self.instance_types)) != len(self.instance_types):
            yield "instanceTypes", "duplicate instance types"
        if self.capacity_type == "SPOT" and len(self.instance_types) < 2:
            yield "instanceTypes", "a SPOT pool needs at least 2 instance types to survive capacity reclaims"
        if self.max_size < self.min_size:
            yield "maxSize", f"must be >= minSize ({self.max_size} < {self.min_size})"
        elif self.desired_size is not None and not self.min_size <= self.desired_size <= self.max_size:
            yield ("desiredSize",
                   f"must be between minSize and maxSize ({self.desired_size} not in {self.min_size}..{self.max_size})")


class GpuPlatformConfig(ConfigModel):
    """How GPU capacity is provisioned and which NVIDIA software runs on it."""

    provisioner: Literal["managedNodeGroups", "karpenter"] = Field(
        "managedNodeGroups", description="managedNodeGroups or karpenter. Default: managedNodeGroups.")
    software: Literal["devicePlugin", "gpuOperator"] = Field(
        "devicePlugin", description="NVIDIA device plugin or GPU operator (driver/toolkit off). Default: devicePlugin.")
    device_plugin_version: ChartVersion = Field("0.18.0", description="nvidia-device-plugin chart. Default: 0.18.0.")
    gpu_operator_version: ChartVersion = Field("v25.10.0", description="gpu-operator chart. Default: v25.10.0.")
    efa_plugin_version: ChartVersion = Field("0.5.6", description="aws-efa-k8s-device-plugin chart. Default: 0.5.6.")
    karpenter_version: ChartVersion = Field("1.8.1", description="Karpenter chart (karpenter provisioner). Default: 1.8.1.")
