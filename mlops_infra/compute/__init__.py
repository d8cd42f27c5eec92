"""Compute concern: the EKS cluster, its add-ons and access, node groups, GPU pools and software, Karpenter, the
cluster autoscaler, the AWS Load Balancer Controller, storage classes and training foundations."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import TrainingCluster, TrainingClusterArgs, kubeconfig
    from .cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
    from .config import (
        AddonVersions,
        ClusterConfig,
        PriorityClassConfig,
        PrivateEndpointAccessConfig,
        SystemNodesConfig,
        TeamConfig,
        TrainingOperatorConfig,
    )
    from .gpu_config import GpuPlatformConfig, GpuPoolConfig, TaintConfig
    from .gpu_pool import GpuNodePool, GpuNodePoolArgs
    from .gpu_software import GpuSoftware, GpuSoftwareArgs
    from .karpenter import Karpenter, KarpenterArgs
    from .load_balancer_controller import LoadBalancerController, LoadBalancerControllerArgs
    from .observability import ClusterObservability, ClusterObservabilityArgs
    from .training_foundations import TrainingFoundations, TrainingFoundationsArgs

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "TrainingCluster": "cluster", "TrainingClusterArgs": "cluster", "kubeconfig": "cluster",
    "ClusterAutoscaler": "cluster_autoscaler", "ClusterAutoscalerArgs": "cluster_autoscaler",
    "AddonVersions": "config", "ClusterConfig": "config", "PriorityClassConfig": "config",
    "PrivateEndpointAccessConfig": "config",
    "SystemNodesConfig": "config", "TeamConfig": "config", "TrainingOperatorConfig": "config",
    "GpuPlatformConfig": "gpu_config", "GpuPoolConfig": "gpu_config", "TaintConfig": "gpu_config",
    "GpuNodePool": "gpu_pool", "GpuNodePoolArgs": "gpu_pool", "GpuSoftware": "gpu_software",
    "GpuSoftwareArgs": "gpu_software", "Karpenter": "karpenter", "KarpenterArgs": "karpenter",
    "LoadBalancerController": "load_balancer_controller", "LoadBalancerControllerArgs": "load_balancer_controller",
    "ClusterObservability": "observability", "ClusterObservabilityArgs": "observability",
    "TrainingFoundations": "training_foundations", "TrainingFoundationsArgs": "training_foundations",
}

__all__ = [
    "AddonVersions", "ClusterAutoscaler", "ClusterAutoscalerArgs", "ClusterConfig", "ClusterObservability",
    "ClusterObservabilityArgs", "GpuNodePool", "GpuNodePoolArgs", "GpuPlatformConfig", "GpuPoolConfig",
    "GpuSoftware", "GpuSoftwareArgs", "Karpenter", "KarpenterArgs", "LoadBalancerController",
    "LoadBalancerControllerArgs", "PriorityClassConfig", "PrivateEndpointAccessConfig", "SystemNodesConfig", "TaintConfig", "TeamConfig",
    "TrainingCluster", "TrainingClusterArgs", "TrainingFoundations", "TrainingFoundationsArgs",
    "TrainingOperatorConfig", "kubeconfig",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
