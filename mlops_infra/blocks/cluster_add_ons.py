"""Cluster-wide singletons: what a cluster may run once, and the refusal of a second one.

A component that installs a cluster-wide singleton (a Helm release of fixed name, cluster-scoped objects of fixed
names, a controller that acts on the whole cluster) claims its add-on name on the cluster before it registers
anything. The claim is refused, at plan time, when the cluster already runs it:
- it is in `ClusterRefs.add_ons` (for a platform stack's cluster, its `clusterAddOns` output: what that stack
  installed); None there means unknown (a cluster made elsewhere, or a platform stack older than the output); unless
  `ClusterRefs.add_on_owners` (the `clusterAddOnOwners` output) names the stack that runs this program as its owner:
  that stack installed it, and its next `pulumi up` keeps it (refusing it, or turning the install off, would make
  Pulumi delete it);
- or another component of this program already claimed it on the same cluster (the same Kubernetes provider).

A second install would not work: Helm refuses a release name in use in its namespace, and a chart's cluster-scoped
objects owned by another release ("invalid ownership metadata"); pulumi-kubernetes creates client-side and gets
AlreadyExists for a Namespace or ServiceAccount another stack owns; two controllers (two autoscalers, two operators)
would act on the same nodes and objects.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import pulumi

from .stack_identity import this_stack

if TYPE_CHECKING:
    from .refs import ClusterRefs

ADD_ONS: dict[str, str] = {
    "clusterAutoscaler": "the Cluster Autoscaler (Helm release cluster-autoscaler in kube-system)",
    "gpuSoftware": "the GPU software (NVIDIA device plugin or GPU operator, EFA plugin, their namespace)",
    "karpenter": "Karpenter (its controller, CRDs and NodePools)",
    "loadBalancerController": "the AWS Load Balancer Controller (its webhooks and IngressClass)",
    "monitoring": "the monitoring core (kube-prometheus-stack: operator, CRDs, webhooks, node-exporter)",
    "externalSecrets": "the External Secrets operator (its CRDs and webhooks)",
    "kserve": "KServe and cert-manager (their CRDs, webhooks and controllers)",
    "kubeflowPipelines": "Kubeflow Pipelines (Argo's CRDs, its admission policy and PriorityClass)",
    "kubeflowTrainer": "the Kubeflow Trainer operator (its CRDs and webhooks)",
    "kuberay": "the KubeRay operator (its CRDs)",
}
"""Each cluster-wide singleton a component of this library installs, by the name `clusterAddOns` lists."""

OUTPUT = "clusterAddOns"
"""The platform stack's output listing what its cluster runs of `ADD_ONS` (ClusterRefs.from_stack_outputs reads it)."""

OWNERS_OUTPUT = "clusterAddOnOwners"
"""The platform stack's output naming the stack that owns each add-on its cluster runs (ClusterRefs.add_on_owners)."""

_CLAIMED: weakref.WeakKeyDictionary[object, dict[str, str]] = weakref.WeakKeyDictionary()


class ClusterAddOnTaken(pulumi.RunError, ValueError):
    """A second install of a cluster-wide singleton on one cluster (a `pulumi.RunError`, as `RefsError`: the engine
    prints the message without a traceback, the offline plan exits 2)."""


def claim(cluster: ClusterRefs, add_on: str, component: str) -> None:
    """Record that `component` (its name) installs `add_on` on `cluster`; refuse when the cluster already runs it."""
    if add_on not in ADD_ONS:
        raise KeyError(f"{add_on!r} is not a cluster add-on ({sorted(ADD_ONS)})")
    what = ADD_ONS[add_on]
    if cluster.runs_from_another_stack(add_on):
        owner = (cluster.add_on_owners or {}).get(add_on)
        whose = (f"installed by stack {owner!r} (`{OWNERS_OUTPUT}`), not this one ({this_stack()!r})" if owner else
                 f"its owner is not recorded (`{OWNERS_OUTPUT}` lacks it: e.g. the platform lists it in the old list "
                 "form of cluster.addOnsInstalledElsewhere). If this stack installed it, the platform's config names "
                 f"it as the owner: `cluster.addOnsInstalledElsewhere: {{{add_on}: {this_stack()}}}`")
        raise ClusterAddOnTaken(
            f"{component}: the cluster already runs {what}: `{add_on}` is in the platform stack's `{OUTPUT}` output "
            f"(what its cluster runs), {whose}. A second one on one cluster collides with the first (the same Helm "
            "release and cluster-scoped names; two controllers acting on the same objects). Use the one the cluster "
            f"runs, or build this component on a cluster whose `{OUTPUT}` lacks {add_on!r} (ClusterRefs.add_ons).")
    claimed = _CLAIMED.setdefault(cluster.provider, {})
    if add_on in claimed:
        raise ClusterAddOnTaken(
            f"{component}: {claimed[add_on]} of this program already installs {what} on this cluster (the same "
            "Kubernetes provider): a cluster runs one. Build it once and share it.")
    claimed[add_on] = component


def installed(provider: object) -> list[str]:
    """The add-ons components of this program installed on the cluster of `provider` (a platform's `clusterAddOns`)."""
    return sorted(_CLAIMED.get(provider, {}))
