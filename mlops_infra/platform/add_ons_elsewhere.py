"""The cluster-wide singletons (blocks/cluster_add_ons.ADD_ONS) the platform's config makes it install, and the
refusal of one that `cluster.addOnsInstalledElsewhere` says another stack installed on the cluster.

A consumer stack (e.g. examples/model_serving, examples/cluster_addons) may install an add-on the platform lacks;
the platform then lists it in that key, which its `clusterAddOns` output carries to every other consumer (their
components refuse a second install), and the platform itself must not install it either: Helm refuses a release
name in use ("cannot re-use a name"), pulumi-kubernetes gets AlreadyExists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..blocks.cluster_add_ons import ADD_ONS
from ..compute.config import ClusterConfig
from ..compute.gpu_config import GpuPlatformConfig, GpuPoolConfig, autoscaler_needed
from ..config.base import Problem
from ..observability.config import MonitoringConfig
from ..pipelines.config import OrchestrationConfig
from ..security.config import SecurityBaselineConfig
from ..serving.config import ServingConfig, ServingEngineConfig

KEY = "cluster.addOnsInstalledElsewhere"
_TRAINING_OPERATORS = {"kubeflow": "kubeflowTrainer", "kuberay": "kuberay"}  # compute/training_foundations.py


def platform_add_ons(cluster: ClusterConfig, gpu: GpuPlatformConfig, pools: Sequence[GpuPoolConfig],
                     monitoring: MonitoringConfig, security: SecurityBaselineConfig, serving: ServingEngineConfig,
                     orchestration: OrchestrationConfig) -> dict[str, str]:
    """Add-on name -> the config that makes the platform install it (what its components claim on its cluster)."""
    found: dict[str, str] = {}
    if cluster.load_balancer_controller:
        found["loadBalancerController"] = "cluster.loadBalancerController"
    if cluster.training_operator.chart is not None:
        found[_TRAINING_OPERATORS[cluster.training_operator.kind]] = "cluster.trainingOperator.kind"
    if gpu.provisioner == "karpenter":
        found["karpenter"] = "gpu.provisioner"
    if pools:
        found["gpuSoftware"] = "gpuPools"
    if autoscaler_needed((cluster.system_nodes.min_size, cluster.system_nodes.max_size), gpu, pools):
        found["clusterAutoscaler"] = "cluster.systemNodes/gpuPools (a node group whose size can change)"
    if monitoring.enabled:
        found["monitoring"] = "monitoring.enabled"
    if security.enabled and security.external_secrets:
        found["externalSecrets"] = "securityBaseline.externalSecrets"
    if serving.enabled and isinstance(serving, ServingConfig):
        found["kserve"] = "serving.enabled"
    if orchestration.kubeflow_pipelines.enabled:
        found["kubeflowPipelines"] = "orchestration.kubeflowPipelines.enabled"
    return found


def elsewhere_problems(elsewhere: Sequence[str], installs: dict[str, str]) -> Iterable[Problem]:
    """Each add-on listed as installed elsewhere that is unknown, listed twice, or installed by this config too (one
    problem naming both)."""
    for i, add_on in enumerate(elsewhere):
        if add_on not in ADD_ONS:
            yield f"{KEY}[{i}]", f"unknown add-on {add_on!r} (one of {', '.join(ADD_ONS)})"
        elif add_on in elsewhere[:i]:
            yield f"{KEY}[{i}]", f"duplicate add-on {add_on!r}"
        elif add_on in installs:
            yield (f"{KEY}[{i}]", f"{add_on!r} is installed by another stack, but {installs[add_on]} makes the "
                   "platform install it too (a second install collides: Helm 'cannot re-use a name', AlreadyExists): "
                   f"turn {installs[add_on]} off, or remove {add_on!r} from {KEY}")
