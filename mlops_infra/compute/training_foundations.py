"""Training foundations: team namespaces with GPU quotas, PriorityClasses and the training operator release."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..blocks.cluster_add_ons import claim
from ..blocks.helm import PinnedChart, release
from ..blocks.namespace import PodSecurityLevel, namespace
from ..blocks.naming import child, child_options, retyped
from ..blocks.platform_facts import occupied_namespace_problems
from ..blocks.pod_security import helm_resources
from ..blocks.refs import ClusterRefs, refuse
from .config import KUBEFLOW_MANAGER_MEMORY_REQUEST_MIB, ClusterConfig

GPU_QUOTA_KEY = "requests.nvidia.com/gpu"  # extended resources are quota'd on requests only
TEAM_LABEL = "mlops.io/team"


TRAINING_LEVEL: PodSecurityLevel = "baseline"
"""Pod Security Admission for team and operator namespaces: enforce `baseline` (GPU containers run as they are
built); the namespace block warns and audits on `restricted` so teams see what to fix."""


def kubeflow_manager(memory_limit: str) -> dict[str, Any]:
    """kubeflow-trainer `manager` values: the controller's resources (the memory limit is
    `trainingOperator.managerMemoryLimit`) and a read-only root filesystem."""
    return {
        "resources": {"requests": {"cpu": "25m", "memory": f"{KUBEFLOW_MANAGER_MEMORY_REQUEST_MIB}Mi"},
                      "limits": {"cpu": "500m", "memory": memory_limit}},
        # Merged into the chart's manager.securityContext (2.3.0: non-root, no escalation, drop ALL, RuntimeDefault).
        # The controller writes nothing locally: its webhook certificates are a Secret mounted read-only.
        "securityContext": {"readOnlyRootFilesystem": True},
    }


TRAINING_OPERATORS = {"kubeflow": "kubeflowTrainer", "kuberay": "kuberay"}
"""The cluster add-on (`clusterAddOns`) each `cluster.trainingOperator.kind` installs."""


@dataclass(frozen=True)
class TrainingFoundationsArgs:
    config: ClusterConfig
    labels: dict[str, str]
    """Labels on every object (e.g. the platform's tags as Kubernetes labels)."""
    cluster: ClusterRefs
    """The cluster the namespaces, quotas and operator live in; every Kubernetes child binds to its provider."""


class TrainingFoundations(pulumi.ComponentResource):
    """Kubernetes children bind to `args.cluster`'s provider."""

    namespaces: dict[str, pulumi.Output[str]]
    operator: k8s.helm.v3.Release | None

    def __init__(self, name: str, args: TrainingFoundationsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:compute:TrainingFoundations", name, None,
                         retyped(args.cluster.bind(opts), "mlops:training:TrainingFoundations"))
        cfg = args.config
        operator = [cfg.training_operator.namespace] if cfg.training_operator.chart is not None else []
        refuse(name, occupied_namespace_problems([*(t.name for t in cfg.teams), *operator], args.cluster))
        self.namespaces = {}
        for team in cfg.teams:
            ns_name = namespace(child(name, team.name), self, team.name, level=TRAINING_LEVEL,
                                labels={**args.labels, TEAM_LABEL: team.name})
            spec: k8s.core.v1.ResourceQuotaSpecArgsDict = {"hard": {GPU_QUOTA_KEY: str(team.gpu_quota)}}
            k8s.core.v1.ResourceQuota(
                child(name, f"{team.name}-gpu-quota"),
                metadata={"name": "gpu-quota", "namespace": ns_name, "labels": args.labels}, spec=spec,
                opts=child_options(self))
            self.namespaces[team.name] = ns_name
        for pc in cfg.priority_classes:
            k8s.scheduling.v1.PriorityClass(
                child(name, pc.name), metadata={"name": pc.name, "labels": args.labels}, value=pc.value,
                global_default=False, description=pc.description or None,
                preemption_policy="PreemptLowerPriority" if pc.preempting else "Never", opts=child_options(self))
        self.operator = None
        chart = cfg.training_operator.chart
        if chart is not None:
            claim(args.cluster, TRAINING_OPERATORS[cfg.training_operator.kind], name)  # one per cluster
            op_ns = namespace(child(name, "operator-ns"), self, cfg.training_operator.namespace, level=TRAINING_LEVEL,
                              labels=args.labels)
            values = {"kuberay": {"resources": helm_resources("100m", "512Mi")},
                      "kubeflow": {"runtimes": cfg.training_operator.runtimes_values(),
                                   "manager": kubeflow_manager(cfg.training_operator.manager_memory_limit)},
                      }[cfg.training_operator.kind]
            self.operator = release(
                child(name, cfg.training_operator.kind), PinnedChart(chart.chart, chart.repo, chart.version),
                parent=self, namespace=op_ns,
                values=values)
        self.register_outputs({"namespaces": dict(self.namespaces)})
