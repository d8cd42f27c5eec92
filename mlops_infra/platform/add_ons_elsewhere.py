"""The cluster-wide singletons (blocks/cluster_add_ons.ADD_ONS) the platform's config makes it install, and the
refusal of one that `cluster.addOnsInstalledElsewhere` says another stack installed on the cluster.

A consumer stack (e.g. examples/model_serving, examples/cluster_addons) may install an add-on the platform lacks;
the platform then lists it in that key, which its `clusterAddOns` output carries to every other consumer (their
components refuse a second install), and the platform itself must not install it either: Helm refuses a release
name in use ("cannot re-use a name"), pulumi-kubernetes gets AlreadyExists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..blocks.cluster_add_ons import ADD_ONS
from ..compute.config import ClusterConfig
from ..compute.gpu_config import GpuPlatformConfig, GpuPoolConfig, autoscaler_needed
from ..compute.gpu_software import tolerations
from ..config.base import Problem
from ..observability.config import MonitoringConfig
from ..pipelines.config import OrchestrationConfig
from ..security.config import SecurityBaselineConfig
from ..serving.config import ServingConfig, ServingEngineConfig

KEY = "cluster.addOnsInstalledElsewhere"
STORE_KEY = "cluster.externalSecretsStore"
SERVES_KEY = "cluster.gpuSoftwareElsewhereServes"
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
"""An owning stack, fully qualified: `<organization>/<project>/<stack>` (a self-managed backend's organization is
`organization`). A two-part `<a>/<b>` is ambiguous (Pulumi Cloud reads it as `<organization>/<stack>`), so config
refuses it."""
_TRAINING_OPERATORS = {"kubeflow": "kubeflowTrainer", "kuberay": "kuberay"}  # compute/training_foundations.py
USED_FROM_ELSEWHERE = ("gpuSoftware", "kserve")
"""Add-ons the platform uses, instead of installing its own, when another stack installed them (listed in `KEY`):
its GPU pools' pods request `nvidia.com/gpu` (and `vpc.amazonaws.com/efa` with `efa`), which the other stack's
device plugin or GPU operator advertises, with an EFA plugin for every pool the platform gives `efa` (its
GpuSoftware tolerates the pools' taints: that stack's `gpuPools` list them); its ModelServing makes its namespace,
runtimes and InferenceServices on the KServe and cert-manager the other stack runs (install_controller false), whose
webhooks answer already: that stack was deployed before the platform lists it. `externalSecrets` is used too, with
the name of its ClusterSecretStore (`STORE_KEY`)."""
TURN_OFF = {
    "loadBalancerController": "set cluster.loadBalancerController false",
    "kubeflowTrainer": "set cluster.trainingOperator.kind none (or kuberay)",
    "kuberay": "set cluster.trainingOperator.kind none (or kubeflow)",
    "karpenter": "set gpu.provisioner managedNodeGroups",
    "clusterAutoscaler": "make every managed node group fixed-size (cluster.systemNodes and each gpuPools entry: "
                         "minSize equal to maxSize; or gpu.provisioner karpenter for the pools)",
    "monitoring": "set monitoring.enabled false",
    "externalSecrets": f"set securityBaseline.externalSecrets false and name the other stack's ClusterSecretStore in "
                       f"{STORE_KEY}",
    "kubeflowPipelines": "set orchestration.kubeflowPipelines.enabled false",
}
"""How config stops the platform installing each add-on it would install (gpuSoftware and kserve: never needed)."""


ESO_FIX = ("set securityBaseline.enabled and securityBaseline.externalSecrets (the platform installs the operator); "
           "or, for the operator another stack installed on the cluster, list externalSecrets in "
           "cluster.addOnsInstalledElsewhere and name its ClusterSecretStore in cluster.externalSecretsStore")


def runs_external_secrets(cluster: ClusterConfig, sb: SecurityBaselineConfig) -> bool:
    """The External Secrets operator runs on the platform's cluster: the platform installs it, or another stack did
    (`externalSecrets` in cluster.addOnsInstalledElsewhere, with cluster.externalSecretsStore)."""
    return (sb.enabled and sb.external_secrets) or "externalSecrets" in cluster.add_ons_elsewhere


def platform_add_ons(cluster: ClusterConfig, gpu: GpuPlatformConfig, pools: Sequence[GpuPoolConfig],
                     monitoring: MonitoringConfig, security: SecurityBaselineConfig, serving: ServingEngineConfig,
                     orchestration: OrchestrationConfig) -> dict[str, str]:
    """Add-on name -> the config that makes the platform install it (what its components claim on its cluster). The
    GPU software and KServe are not installed when another stack did (`USED_FROM_ELSEWHERE`): the platform uses
    those."""
    found: dict[str, str] = {}
    elsewhere = cluster.add_ons_elsewhere
    if cluster.load_balancer_controller:
        found["loadBalancerController"] = "cluster.loadBalancerController"
    if cluster.training_operator.chart is not None:
        found[_TRAINING_OPERATORS[cluster.training_operator.kind]] = "cluster.trainingOperator.kind"
    if gpu.provisioner == "karpenter":
        found["karpenter"] = "gpu.provisioner"
    if pools and "gpuSoftware" not in elsewhere:
        found["gpuSoftware"] = "gpuPools"
    if autoscaler_needed((cluster.system_nodes.min_size, cluster.system_nodes.max_size), gpu, pools):
        found["clusterAutoscaler"] = "cluster.systemNodes/gpuPools (a node group whose size can change)"
    if monitoring.enabled:
        found["monitoring"] = "monitoring.enabled"
    if security.enabled and security.external_secrets:
        found["externalSecrets"] = "securityBaseline.externalSecrets"
    if serving.enabled and isinstance(serving, ServingConfig) and "kserve" not in elsewhere:
        found["kserve"] = "serving.enabled"
    if orchestration.kubeflow_pipelines.enabled:
        found["kubeflowPipelines"] = "orchestration.kubeflowPipelines.enabled"
    return found


def owner_problem(add_on: str, owner: str) -> str:
    """Why `owner` (not `<organization>/<project>/<stack>`) does not name the stack that installed `add_on`."""
    fix = (f"name the stack that installed {add_on!r} fully qualified, <organization>/<project>/<stack> (a self-managed "
           "backend's organization is `organization`, e.g. organization/model_serving/dev)")
    parts = owner.split("/")
    if len(parts) == 2 and all(STACK_NAME.fullmatch(f"o/{p}/s") for p in parts):
        return (f"{owner!r} is ambiguous (Pulumi Cloud reads a two-part name as <organization>/<stack>, not "
                f"<project>/<stack>): {fix}; if it is <project>/<stack>, write "
                f"<organization>/{owner} (organization/{owner} on a self-managed backend)")
    return f"{owner!r} is not a stack: {fix}"


def elsewhere_problems(cluster: ClusterConfig, installs: dict[str, str]) -> Iterable[Problem]:
    """Each add-on listed as installed elsewhere that is unknown, listed twice (list form), or installed by this
    config too (one problem naming both, and how to turn the platform's off); `externalSecrets` listed without the
    name of its ClusterSecretStore, or that name without it."""
    listed = cluster.add_ons_installed_elsewhere
    keys = list(listed)
    for i, add_on in enumerate(keys):
        path = f"{KEY}.{add_on}" if isinstance(listed, dict) else f"{KEY}[{i}]"
        if add_on not in ADD_ONS:
            yield path, f"unknown add-on {add_on!r} (one of {', '.join(ADD_ONS)})"
        elif add_on in keys[:i]:
            yield path, f"duplicate add-on {add_on!r}"
        elif isinstance(listed, dict) and not STACK_NAME.fullmatch(listed[add_on]):
            yield path, owner_problem(add_on, listed[add_on])
        elif add_on in installs:
            yield (path, f"{add_on!r} is installed by another stack, but {installs[add_on]} makes the platform "
                   "install it too (a second install collides: Helm 'cannot re-use a name', AlreadyExists): "
                   f"{TURN_OFF[add_on]}, or remove {add_on!r} from {KEY}")
    if "externalSecrets" in keys and cluster.external_secrets_store is None:
        yield (STORE_KEY, f"required when {KEY} lists externalSecrets: the name of the ClusterSecretStore the other "
               "stack's External Secrets operator serves (exported as externalSecretsStore for components alone)")
    elif "externalSecrets" not in keys and cluster.external_secrets_store is not None:
        yield (STORE_KEY, f"only for an External Secrets operator another stack installed (externalSecrets in "
               f"{KEY}); the platform's own operator names its store itself")


def served_elsewhere(cluster: ClusterConfig, pools: Sequence[GpuPoolConfig]) -> list[GpuPoolConfig]:
    """The pools whose device plugin the stack owning `gpuSoftware` runs, as far as the platform knows: those this
    library's GpuSoftware serves by default (untainted, or tainted as it tolerates, and no EFA) and those
    `SERVES_KEY` says it serves."""
    default = {(t["key"], t["effect"]) for t in tolerations([])}
    return [p for p in pools if p.name in cluster.gpu_software_elsewhere_serves
            or (not p.efa and (p.taint is None or (p.taint.key, p.taint.k8s_effect) in default))]


def gpu_elsewhere_problems(cluster: ClusterConfig, pools: Sequence[GpuPoolConfig]) -> Iterable[Problem]:
    """With `gpuSoftware` installed elsewhere, the platform's GPU pools that stack's GpuSoftware is not known to
    serve (one problem naming them); `SERVES_KEY` without `gpuSoftware` listed, or naming no platform pool."""
    serves = cluster.gpu_software_elsewhere_serves
    if "gpuSoftware" not in cluster.add_ons_elsewhere:
        if serves:
            yield SERVES_KEY, f"only with gpuSoftware in {KEY}: the platform's own GpuSoftware serves its pools"
        return
    if unknown := sorted(set(serves) - {p.name for p in pools}):
        yield SERVES_KEY, f"{unknown} are not gpuPools of this platform"
    known = {p.name for p in served_elsewhere(cluster, pools)}
    if unserved := [p for p in pools if p.name not in known]:
        default = ", ".join(f"{t['key']}:{t['effect']}" for t in tolerations([]))
        why = "; ".join(f"{p.name!r} ({', '.join(_unserved_by_default(p))})" for p in unserved)
        yield ("gpuPools", f"gpuSoftware is installed by another stack ({KEY}), whose GpuSoftware tolerates only "
               f"{default} and runs no EFA plugin unless given such pools, so these pools' nodes would get no device "
               f"plugin (no nvidia.com/gpu: their pods stay Pending): {why}. Give that stack's GpuSoftware the same "
               f"pools and list them in {SERVES_KEY}, or drop their taint (or efa)")


def _unserved_by_default(pool: GpuPoolConfig) -> list[str]:
    default = {(t["key"], t["effect"]) for t in tolerations([])}
    taint = (pool.taint.key, pool.taint.k8s_effect) if pool.taint is not None else None
    return [*([f"taint {taint[0]}:{taint[1]}"] if taint is not None and taint not in default else []),
            *(["efa: true"] if pool.efa else [])]
