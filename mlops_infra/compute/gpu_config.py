"""GPU node pools and the GPU software that runs on them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import Field

from ..config import versions
from ..config.base import ConfigModel, Problem
from ..config.instances import GPU_FAMILIES, GPU_INSTANCES, GPU_MODELS, family_of, is_gpu_instance
from ..config.types import ChartVersion, K8sName

AmiType = Literal["AL2023_x86_64_NVIDIA", "AL2023_ARM_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA",
                  "BOTTLEROCKET_ARM_64_NVIDIA"]
AMI_ARCH: dict[str, str] = {
    "AL2023_x86_64_NVIDIA": "x86_64", "BOTTLEROCKET_x86_64_NVIDIA": "x86_64",
    "AL2023_ARM_64_NVIDIA": "arm64", "BOTTLEROCKET_ARM_64_NVIDIA": "arm64",
}
CapacityType = Literal["SPOT", "ON_DEMAND"]
TaintEffect = Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"]
K8S_TAINT_EFFECT: dict[str, str] = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute",
                                    "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
POOL_LABEL = "mlops.io/gpu-pool"
GPU_TYPE_LABEL = "mlops.io/gpu-type"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
# cluster-autoscaler's AWS GPU label (cloudprovider/aws/aws_cloud_provider.go GPULabel, 1.35.2): a node carrying it
# counts as a GPU node that is still starting until the device plugin advertises its GPUs, so the autoscaler does
# not scale out again while it waits ("Special note on GPU instances", cloudprovider/aws/README.md).
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"


# GPU families AWS does not offer in a Region, where the evidence is dated. eu-west-1: AWS's EC2 price lists have no
# g6, g6e or p5 row there while us-east-1 and us-west-2 list all three (SkyPilot's catalog of the Price List offer
# files, skypilot-catalog v8/aws/vms.csv at 00148f2a, late 2025; and AWS's pricing-page feed copied by ec2.shop,
# data/ec2/eu-west-1-ondemand.json at 74c9fd8a, published 2025-04-04; both cited in mlops_infra/cost/prices.json).
# A pool of them would plan, and its node group would never launch a node. Drop an entry when AWS launches there.
NOT_OFFERED: dict[str, frozenset[str]] = {"eu-west-1": frozenset({"g6", "g6e", "p5"})}

class TaintConfig(ConfigModel):
    """The taint that keeps non-GPU pods off GPU nodes."""

    key: str = Field("nvidia.com/gpu", description="Taint key. Default: nvidia.com/gpu.")
    value: str = Field("true", description="Taint value. Default: \"true\".")
    effect: TaintEffect = Field("NO_SCHEDULE", description="Taint effect (EKS API spelling). Default: NO_SCHEDULE.")

    @property
    def k8s_effect(self) -> str:
        """The Kubernetes spelling (`NoSchedule`) used in tolerations and Karpenter NodePools."""
        return K8S_TAINT_EFFECT[self.effect]


class GpuPoolConfig(ConfigModel):
    """One EKS managed node group (or Karpenter NodePool) of GPU instances."""

    name: K8sName = Field(..., description="Pool name; used in resource names and the pool label. Required.")
    instance_types: list[str] = Field(..., min_length=1, description="GPU instance types. Required.")
    capacity_type: CapacityType = Field("ON_DEMAND", description="SPOT or ON_DEMAND. Default: ON_DEMAND.")
    min_size: int = Field(0, ge=0, le=1000, description="Minimum nodes; 0 scales to zero. Default: 0.")
    desired_size: int | None = Field(None, ge=0, description="Initial desired nodes. Default: minSize.")
    max_size: int = Field(..., ge=1, le=1000, description="Maximum nodes. Required.")
    ami_type: AmiType = Field("AL2023_x86_64_NVIDIA", description="NVIDIA AMI type. Default: AL2023_x86_64_NVIDIA.")
    taint: TaintConfig | None = Field(
        default_factory=TaintConfig,
        description="The GPU taint. Default: nvidia.com/gpu=true NoSchedule; null for an untainted pool.")
    root_volume_gib: int = Field(100, ge=50, le=16384, description="Encrypted gp3 root volume (GiB). Default: 100.")
    metadata_hop_limit: Literal[1, 2] = Field(
        1, description="IMDSv2 hop limit. Default: 1. Use 2 only for pods on the host network that need IMDS.",
    )
    efa: bool = Field(False, description="Enable EFA with a cluster placement group. Default: false.")
    node_repair: bool = Field(True, description="EKS node auto repair. Default: true.")
    assume_offered: bool = Field(
        False, description="Plan the pool although this library's table of instance families AWS does not offer in "
        "the stack's Region (compute/gpu_config.py NOT_OFFERED, from price feeds of 2025) lists one of its types: "
        "set it once `aws ec2 describe-instance-type-offerings --region <region>` lists the type (`mlops-infra "
        "preflight` checks the offerings in the VPC's zones). Default: false.")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra node labels. Default: none (pool and GPU type labels are always set).")

    @property
    def effective_desired_size(self) -> int:
        return self.desired_size if self.desired_size is not None else self.min_size

    @property
    def arch(self) -> str:
        """`x86_64` or `arm64`, from the AMI type (validation guarantees the instance types agree)."""
        return AMI_ARCH[self.ami_type]

    @property
    def gpu_type(self) -> str:
        """The GPU model label value: `l4`, `h100`, ...; `mixed` when the instance types carry different GPUs."""
        models = {GPU_MODELS[family_of(t)] for t in self.instance_types if is_gpu_instance(t)}
        return models.pop() if len(models) == 1 else "mixed"

    @property
    def min_gpus_per_node(self) -> int:
        """The fewest GPUs any of the pool's instance types has (what the autoscaler may promise for a new node)."""
        return min(GPU_INSTANCES[t].gpus for t in self.instance_types)

    @property
    def node_labels(self) -> dict[str, str]:
        """Labels every node of the pool carries: pool, GPU type, `nvidia.com/gpu.present` (so the device plugin
        schedules before GPU feature discovery runs), the autoscaler's GPU label and the EFA marker, plus `labels`."""
        out = {**self.labels, POOL_LABEL: self.name, GPU_TYPE_LABEL: self.gpu_type, GPU_PRESENT_LABEL: "true",
               ACCELERATOR_LABEL: self.gpu_type}
        if self.efa:
            out["vpc.amazonaws.com/efa.present"] = "true"
        return out

    @property
    def total_gpus_at_max(self) -> int:
        return max(GPU_INSTANCES[t].gpus for t in self.instance_types) * self.max_size

    @property
    def efa_network_cards(self) -> int:
        """EFA interfaces per node: one per network card of the smallest instance type (the launch template is
        shared by every instance type of the pool); 0 without `efa`."""
        return min(GPU_INSTANCES[t].network_cards for t in self.instance_types) if self.efa else 0

    def problems(self) -> Iterable[Problem]:
        for i, itype in enumerate(self.instance_types):
            if not is_gpu_instance(itype):
                yield (f"instanceTypes[{i}]",
                       f"{itype!r} is not a GPU instance type (families: {', '.join(sorted(GPU_FAMILIES))})")
            elif itype not in GPU_INSTANCES:
                known = sorted(t for t in GPU_INSTANCES if family_of(t) == family_of(itype))
                yield (f"instanceTypes[{i}]", f"unknown GPU instance type {itype!r}: its GPU count is not in the "
                       f"catalogue (mlops_infra/config/instances.py; known {family_of(itype)} sizes: {', '.join(known)})")
            elif GPU_FAMILIES[family_of(itype)] != AMI_ARCH[self.ami_type]:
                yield (f"instanceTypes[{i}]", f"{itype!r} is {GPU_FAMILIES[family_of(itype)]}, "
                       f"but amiType {self.ami_type} is {AMI_ARCH[self.ami_type]}")
            elif self.efa and not GPU_INSTANCES[itype].efa:
                yield f"instanceTypes[{i}]", f"{itype!r} does not support EFA (efa: true)"
        for key in self.labels:
            if key in (POOL_LABEL, GPU_TYPE_LABEL, ACCELERATOR_LABEL) or key.startswith(("kubernetes.io/", "k8s.io/")):
                yield f"labels.{key}", "reserved label key (set by the platform or Kubernetes)"
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
    device_plugin_version: ChartVersion = Field(
        versions.DEVICE_PLUGIN.version,
        description=f"nvidia-device-plugin chart. Default: {versions.DEVICE_PLUGIN.version}.")
    gpu_operator_version: ChartVersion = Field(
        versions.GPU_OPERATOR.version, description=f"gpu-operator chart. Default: {versions.GPU_OPERATOR.version}.")
    efa_plugin_version: ChartVersion = Field(
        versions.EFA_PLUGIN.version,
        description=f"aws-efa-k8s-device-plugin chart (installed when a pool has efa). "
        f"Default: {versions.EFA_PLUGIN.version}.")
    efa_plugin: bool | None = Field(
        None, description="Install the EFA device plugin: true also when no pool of this stack has efa (a team "
        "workspace's EFA pool), false never. Default: when a pool has efa.")
    efa_plugin_read_only_root: bool = Field(
        True, description="Run the EFA device plugin with a read-only root filesystem. Its image's source is not "
        "published, so that it writes nothing outside its mounted paths is unverified: if the plugin fails on the "
        "first EFA node with `read-only file system` in its log, set false, and waive mlops-k8s-read-only-root-fs "
        "for `aws-efa-k8s-device-plugin` in policies/config/<stack>.json (docs/troubleshooting.md). The plugin is "
        "privileged, so a read-only root does not confine it either way. Default: true.")
    karpenter_version: ChartVersion = Field(
        versions.KARPENTER.version,
        description=f"Karpenter chart (karpenter provisioner). Default: {versions.KARPENTER.version}.")
    cluster_autoscaler_version: ChartVersion = Field(
        versions.CLUSTER_AUTOSCALER.version,
        description=f"cluster-autoscaler chart, installed when a managed node group can scale (minSize < maxSize); "
        f"its image follows the cluster's Kubernetes minor. Default: {versions.CLUSTER_AUTOSCALER.version}.")
    namespace: K8sName = Field("gpu-system", description="Namespace of the GPU software. Default: gpu-system.")
    karpenter_ami_version: str = Field(
        "latest", pattern=r"^(latest|v\d{8})$",
        description="AMI release in the Karpenter alias (`al2023@<this>`); pin e.g. v20251120 in production so nodes "
        "change only when you bump it. Default: latest.")
    karpenter_bottlerocket_ami_version: str = Field(
        "latest", pattern=r"^(latest|v\d+\.\d+\.\d+)$",
        description="Bottlerocket release in the Karpenter alias of Bottlerocket pools (`bottlerocket@<this>`, "
        "Bottlerocket's own version format, e.g. v1.50.0). Default: latest.")


def autoscaler_needed(system_sizes: tuple[int, int], gpu: GpuPlatformConfig, pools: Sequence[GpuPoolConfig]) -> bool:
    """True when some managed node group can change size: the system group (`system_sizes`: its min and max), or
    a GPU pool that Karpenter does not provision (Karpenter launches its own instances, outside any Auto Scaling
    group)."""
    managed = [] if gpu.provisioner == "karpenter" else list(pools)
    return system_sizes[0] < system_sizes[1] or any(p.min_size < p.max_size for p in managed)


def region_problems(pools: Sequence[GpuPoolConfig], region: str) -> Iterable[Problem]:
    """(path, message) for each instance type of a pool that AWS does not offer in `region` (NOT_OFFERED)."""
    missing = NOT_OFFERED.get(region, frozenset())
    for i, pool in enumerate(pools):
        for j, itype in enumerate(pool.instance_types):
            if family_of(itype) in missing and not pool.assume_offered:
                yield (f"gpuPools[{i}].instanceTypes[{j}]",
                       f"GPU pool {pool.name!r}: {itype} is not offered in {region} (AWS lists no "
                       f"{family_of(itype)} instances there), so the pool could never launch a node: use a family "
                       f"AWS offers in {region} or another Region; if `aws ec2 describe-instance-type-offerings --region "
                       f"{region}` lists it now, set gpuPools[{i}].assumeOffered: true")
