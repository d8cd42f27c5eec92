"""GPU instance catalog used by validation, launch templates, cost policies and preflight.

Source: EC2 `DescribeInstanceTypes` (GpuInfo.Gpus[].Count, VCpuInfo.DefaultVCpus, NetworkInfo.EfaSupported and
NetworkInfo.MaximumNetworkCards), as recorded in moto 5.2's `ec2/resources/instance_types.json.gz`;
`tests/compute/test_gpu_pools.py` checks every entry against that data through boto3, so a typo cannot hide here.
A GPU instance type that is not in this catalogue is a config error (never a silent 1-GPU guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Arch = Literal["x86_64", "arm64"]


@dataclass(frozen=True)
class GpuInstance:
    gpus: int
    vcpus: int
    arch: Arch
    efa: bool
    network_cards: int = 1
    """EC2 `MaximumNetworkCards`: an EFA launch template creates one EFA interface per card (p5.48xlarge: 32)."""


GPU_FAMILIES: dict[str, Arch] = {
    "g4dn": "x86_64", "g5": "x86_64", "g5g": "arm64", "g6": "x86_64", "g6e": "x86_64", "g7e": "x86_64",
    "gr6": "x86_64", "p4d": "x86_64", "p4de": "x86_64", "p5": "x86_64", "p5e": "x86_64", "p5en": "x86_64",
    "p6-b200": "x86_64",
}
# The NVIDIA GPU each family carries, as the `mlops.io/gpu-type` label value (AWS accelerated-computing pages).
GPU_MODELS: dict[str, str] = {
    "g4dn": "t4", "g5": "a10g", "g5g": "t4g", "g6": "l4", "g6e": "l40s", "g7e": "rtx-pro-6000", "gr6": "l4",
    "p4d": "a100", "p4de": "a100", "p5": "h100", "p5e": "h200", "p5en": "h200", "p6-b200": "b200",
}
# Service Quotas bucket a family's vCPUs fall into: G and VT, or P.
QUOTA_CLASS: dict[str, Literal["G", "P"]] = {f: ("P" if f.startswith("p") else "G") for f in GPU_FAMILIES}

# size -> (gpus, vcpus) or (gpus, vcpus, network cards)
_Sizes = dict[str, tuple[int, int] | tuple[int, int, int]]


def _sizes(family: str, table: _Sizes, efa_from: frozenset[str] = frozenset()) -> dict[str, GpuInstance]:
    arch = GPU_FAMILIES[family]
    return {f"{family}.{size}": GpuInstance(row[0], row[1], arch, size in efa_from, row[2] if len(row) == 3 else 1)
            for size, row in table.items()}


_G_STANDARD: _Sizes = {"xlarge": (1, 4), "2xlarge": (1, 8), "4xlarge": (1, 16), "8xlarge": (1, 32),
                       "12xlarge": (4, 48), "16xlarge": (1, 64), "24xlarge": (4, 96), "48xlarge": (8, 192)}
_G_EFA = frozenset({"8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"})

GPU_INSTANCES: dict[str, GpuInstance] = {
    **_sizes("g4dn", {"xlarge": (1, 4), "2xlarge": (1, 8), "4xlarge": (1, 16), "8xlarge": (1, 32),
                      "12xlarge": (4, 48), "16xlarge": (1, 64), "metal": (8, 96)},
             frozenset({"8xlarge", "12xlarge", "16xlarge", "metal"})),
    **_sizes("g5", _G_STANDARD, _G_EFA),
    **_sizes("g5g", {"xlarge": (1, 4), "2xlarge": (1, 8), "4xlarge": (1, 16), "8xlarge": (1, 32),
                     "16xlarge": (2, 64), "metal": (2, 64)}),
    **_sizes("g6", _G_STANDARD, _G_EFA),
    **_sizes("g6e", {**_G_STANDARD, "24xlarge": (4, 96, 2), "48xlarge": (8, 192, 4)}, _G_EFA),
    # G7e: NVIDIA RTX PRO 6000 Blackwell Server Edition; no xlarge or 16xlarge size.
    **_sizes("g7e", {"2xlarge": (1, 8), "4xlarge": (1, 16), "8xlarge": (1, 32), "12xlarge": (2, 48),
                     "24xlarge": (4, 96, 2), "48xlarge": (8, 192, 4)},
             frozenset({"8xlarge", "12xlarge", "24xlarge", "48xlarge"})),
    # Gr6: one L4 with a 1:8 vCPU:memory ratio.
    **_sizes("gr6", {"4xlarge": (1, 16), "8xlarge": (1, 32)}, frozenset({"8xlarge"})),
    **_sizes("p4d", {"24xlarge": (8, 96, 4)}, frozenset({"24xlarge"})),
    **_sizes("p4de", {"24xlarge": (8, 96, 4)}, frozenset({"24xlarge"})),
    **_sizes("p5", {"4xlarge": (1, 16), "48xlarge": (8, 192, 32)}, frozenset({"4xlarge", "48xlarge"})),
    **_sizes("p5e", {"48xlarge": (8, 192, 32)}, frozenset({"48xlarge"})),
    **_sizes("p5en", {"48xlarge": (8, 192, 16)}, frozenset({"48xlarge"})),
    **_sizes("p6-b200", {"48xlarge": (8, 192, 8)}, frozenset({"48xlarge"})),
}


def family_of(instance_type: str) -> str:
    return instance_type.rsplit(".", 1)[0]


def is_gpu_instance(instance_type: str) -> bool:
    return family_of(instance_type) in GPU_FAMILIES
