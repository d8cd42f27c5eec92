"""The node types a cluster's pools can start, with their labels, taints and allocatable, for the placement family.

Pools: EKS managed node groups (`aws:eks/nodeGroup:NodeGroup`: instanceTypes, labels, taints), Karpenter NodePools
(`karpenter.sh/v1` NodePool: template labels, taints, requirements on instance type / family / arch), and pulumi-eks
groups (`eks:index:ManagedNodeGroup`, `eks:index:NodeGroupV2`/`NodeGroup`: instanceType(s), labels, taints).
A pool whose instance types are not known (a Karpenter pool without an instance-type or family requirement, an
instance type not in the catalogue, an unknown value) admits any size: it is never the reason a pod "cannot fit".

Allocatable = capacity minus the EKS reservation (amazon-eks-ami nodeadm internal/kubelet/config.go):
kube-reserved memory `11 * maxPods + 255` MiB (getMemoryMebibytesToReserve), CPU 6% of the first core, 1% of the
second, 0.5% of cores 3-4 and 0.25% above (getCPUMillicoresToReserve: ranges 0/1000/2000/4000 m, 600/100/50/25
per 10000), and evictionHard memory.available 100Mi; maxPods = ENIs * (IPv4 per ENI - 1) + 2
(eni_max_pods.go calculateStandardMaxPods). That reservation counts the ENI-based maxPods even where the kubelet admits
fewer pods: EKS caps a managed node group's kubelet maxPods at 110 (below 30 vCPUs) or 250 through the node's user data
(EKS user guide, choosing-instance-type, "How maxPods is determined"), but nodeadm computes kubeReserved from
`CalcMaxPods(instance info)` before the user's kubelet config is written as a drop-in (amazon-eks-ami v20260724
nodeadm/internal/kubelet/config.go withDefaultReservedResources, writeKubeletConfig -> 40-nodeadm.conf), and the AL2
bootstrap.sh reads MAX_PODS from eni-max-pods.txt for kubeReserved whatever `--use-max-pods false --max-pods` say
(v20251217 templates/al2/runtime/bootstrap.sh). So `allocatable` uses the uncapped number; `pod_slots` the capped one.

Label `topology.ebs.csi.aws.com/zone`: the kubelet sets the CSI driver's topology keys on a node where the driver's
node plugin registers (kubernetes pkg/volume/csi/nodeinfomanager updateTopologyLabels), so a node carries it, with
its zone as value, only where the stack's EBS CSI driver (add-on, chart, rendered DaemonSet) runs its node plugin:
on each pool its `node.nodeSelector` matches and whose taints it tolerates (`node.tolerateAllTaints`, chart default
true, or `node.tolerations`; aws-ebs-csi-driver charts/aws-ebs-csi-driver values.yaml), read from the add-on's
configurationValues and the release's values; a DaemonSet or manifest install is taken to run everywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .core import UNKNOWN, Resource, as_list
from .invariants_index import NODE_GROUP, Index, doc, meta, release_values
from .pod_model import INSTALLERS

NODE_POOLS = ("kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.sh/v1beta1:NodePool")
EKS_GROUPS = ("eks:index:ManagedNodeGroup", "eks:index:NodeGroupV2", "eks:index:NodeGroup")
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
ARCH = "kubernetes.io/arch"
EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
EBS_ZONE = "topology.ebs.csi.aws.com/zone"
SUBNET = "aws:ec2/subnet:Subnet"
UNMODELLED = ("topology.kubernetes.io/", "kubernetes.io/hostname", "topology.k8s.aws/", "feature.node.kubernetes.io/",
              "nvidia.com/", "karpenter.k8s.aws/", "k8s.amazonaws.com/", "vpc.amazonaws.com/",
              "node.kubernetes.io/lifecycle", "failure-domain.beta.kubernetes.io/")
"""Node label keys set by others (zones, hosts, feature discovery, Karpenter's instance labels): not judged."""
KARPENTER_WELL_KNOWN = frozenset({
    "kubernetes.io/arch", "kubernetes.io/os", "node.kubernetes.io/instance-type", "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region", "karpenter.sh/capacity-type", "node.kubernetes.io/windows-build"})
"""Well-known labels a pod may select on a NodePool that does not constrain them (kubernetes-sigs/karpenter
pkg/apis/v1/labels.go WellKnownLabels; the scheduler checks compatibility with `AllowUndefinedWellKnownLabels`).
The AWS provider's `karpenter.k8s.aws/` labels are already not judged (UNMODELLED)."""


VM_OVERHEAD = 0.075
"""Karpenter's default settings.vmMemoryOverheadPercent (karpenter chart 1.9.0 values.yaml)."""


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    max_pods: int
    gpus: int
    efa: bool
    arch: str
    enis: int = 0
    """EC2 MaximumNetworkInterfaces of the default network card (0: not recorded)."""
    ipv4_per_eni: int = 0
    """EC2 Ipv4AddressesPerInterface (0: not recorded)."""

    @property
    def pod_slots(self) -> int:
        """The kubelet's maxPods on an EKS managed node group without a custom AMI: the ENI-based number, capped at
        110 below 30 vCPUs and 250 above (EKS user guide, choosing-instance-type, "Managed node group enforcement";
        30 vCPUs exactly is taken as 110, the lower bound)."""
        return min(self.max_pods, 110 if self.vcpus <= 30 else 250)

    @property
    def allocatable(self) -> dict[str, float]:
        """cpu (millicores) and memory (MiB) a pod can request, after the EKS AMI's reservation."""
        total = self.vcpus * 1000
        reserved = 0.0
        for low, high, per10k in ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50), (4000, total, 25)):
            reserved += max(0, min(total, high) - low) * per10k / 10000
        return {"cpu": total - reserved, "memory": self.memory_mib - (11 * self.max_pods + 255) - 100}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, InstanceType]:
    data = json.loads((Path(__file__).parent / "data" / "instance_types.json").read_text())
    return {name: InstanceType(name, row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7])
            for name, row in data["types"].items()}


@dataclass(frozen=True)
class NodeType:
    """One instance type of one pool: what a node of it carries."""

    pool: str
    instance: InstanceType | None
    """None: the pool's types are not known (any size)."""
    labels: Mapping[str, Any]
    taints: tuple[Mapping[str, Any], ...]
    requirements: tuple[Mapping[str, Any], ...] = ()
    """Karpenter requirements: a label a requirement allows is one a node may carry."""
    vm_overhead: float | None = None
    """Karpenter's vmMemoryOverheadPercent for a NodePool's types (None: not a Karpenter pool)."""

    @property
    def allocatable(self) -> dict[str, float]:
        """The instance's allocatable; for a Karpenter pool, what Karpenter counts on when it picks a type
        (karpenter-provider-aws pkg/providers/instancetype/types.go memory(): minus 64 MiB CMA on arm64, then minus
        ceil(memory * vmMemoryOverheadPercent), before the kubelet reservation). Needs `instance`."""
        assert self.instance is not None
        alloc = dict(self.instance.allocatable)
        if self.vm_overhead is not None:
            cma = 64 if self.instance.arch == "arm64" else 0
            alloc["memory"] -= cma + math.ceil((self.instance.memory_mib - cma) * self.vm_overhead)
        return alloc

    @property
    def what(self) -> str:
        return f"{self.pool} ({self.instance.name if self.instance else 'any type'})"


def _taints(value: Any) -> tuple[Mapping[str, Any], ...]:
    if isinstance(value, Mapping):  # pulumi-eks: {key: {value, effect}}
        return tuple({"key": k, "value": (v or {}).get("value"), "effect": (v or {}).get("effect")}
                     for k, v in value.items() if isinstance(v, Mapping))
    return tuple({**t, "effect": EFFECTS.get(str(t.get("effect")), t.get("effect"))}
                 for t in as_list(value) if isinstance(t, Mapping))


def _types(names: Any) -> list[InstanceType | None]:
    if not isinstance(names, list) or not names or any(not isinstance(n, str) for n in names):
        return [None]
    cat = catalogue()
    return [cat.get(n) for n in names]


def ebs_csi_installed(idx: Index) -> bool:
    """Whether the stack installs the EBS CSI driver (its node plugin): the EKS add-on, the chart, a DaemonSet running
    its image, or a manifest installer that names it."""
    if "aws-ebs-csi-driver" in idx.addons or idx.releases("aws-ebs-csi-driver"):
        return True
    for ds in idx.of_type("kubernetes:apps/v1:DaemonSet"):
        if any("aws-ebs-csi-driver" in str(c.get("image") or "") for c in as_list(
                ds.get("spec", "template", "spec", "containers")) if isinstance(c, Mapping)):
            return True
    parents = {r.parent for r in idx.stack.resources if r.parent}
    return any("aws-ebs-csi-driver" in str(dict(r.props)) for r in idx.of_type(*INSTALLERS) if r.urn not in parents)


def tolerated(taint: Mapping[str, Any], tolerations: list[Any]) -> bool:
    """Whether one of `tolerations` tolerates `taint` (core/v1 Toleration: an empty key with Exists tolerates all)."""
    for tol in tolerations:
        if not isinstance(tol, Mapping):
            continue
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and not tol.get("key"):
            return True
        if tol.get("key") != taint.get("key"):
            continue
        if tol.get("operator") == "Exists" or str(tol.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


EbsNode = list[Mapping[str, Any]] | None
"""The `node` values of each install of the EBS CSI driver whose settings the stack shows (add-on configuration,
chart release values); None: an install whose settings are not known (a DaemonSet, a manifest): taken to run on
every node."""


def ebs_csi_node_settings(idx: Index) -> EbsNode:
    settings: list[Mapping[str, Any]] = []
    addon = idx.addons.get("aws-ebs-csi-driver")
    if addon is not None:
        cfg = doc(addon.get("configurationValues")) if addon.get("configurationValues") is not None else {}
        if not isinstance(cfg, Mapping) or not isinstance(cfg.get("node", {}), Mapping):
            return None
        settings.append(cfg.get("node", {}))
    for release in idx.releases("aws-ebs-csi-driver"):
        node = release_values(release).get("node", {})
        if not isinstance(node, Mapping):
            return None
        settings.append(node)
    return settings or None


def may_carry(labels: Mapping[str, Any], requirements: tuple[Mapping[str, Any], ...] | None, key: str,
              test: Callable[[Any], Any]) -> bool:
    """Whether a node with the modelled `labels` may carry a label `key` satisfying `test(value or None)`: a key set
    by others (an UNMODELLED prefix) or whose modelled value is UNKNOWN may; a Karpenter pool (`requirements` not
    None) may carry any value its requirements allow, and any value of a well-known label it leaves open; else only
    the modelled value counts, and a key the model does not hold counts as absent (`test(None)`), even when the node
    may get it elsewhere (a managed group's launch-template kubelet arguments or nodeadm config): the pod model reads
    node labels the same way."""
    if key.startswith(UNMODELLED) or labels.get(key) is UNKNOWN:
        return True
    if key in labels:
        return bool(test(labels[key]))
    for req in requirements or ():  # Karpenter picks any value its requirements allow
        if req.get("key") == key:
            return req.get("operator") in ("Exists", "NotIn", "Gt", "Lt") or any(
                test(v) for v in as_list(req.get("values")))
    if requirements is not None and key in KARPENTER_WELL_KNOWN:
        return True  # a label the pool leaves open: Karpenter launches a node with the value the pod asks for
    return bool(test(None))


def ebs_csi_runs(settings: EbsNode, carries: Callable[[str, Any], bool],
                 taints: tuple[Mapping[str, Any], ...]) -> bool:
    """Whether the driver's node plugin runs on a node that `carries(key, value)` a label and has `taints`: its
    `node.nodeSelector` may match (`may_carry`: UNMODELLED keys, UNKNOWN values and what a Karpenter pool leaves open
    match; any other label the node's pool does not set counts as absent) and either
    `node.tolerateAllTaints` (chart default true) or `node.tolerations` (default: NoExecute, Exists) tolerate each
    NoSchedule and NoExecute taint (aws-ebs-csi-driver charts/aws-ebs-csi-driver values.yaml and
    templates/node.yaml). `node.affinity` is not read (its default only excludes Fargate and a1 types)."""
    if settings is None:
        return True
    for node in settings:
        selector = node.get("nodeSelector") or {}
        if not isinstance(selector, Mapping) or not all(
                v is UNKNOWN or carries(str(k), v) for k, v in selector.items()):
            continue
        if node.get("tolerateAllTaints", True) is not False:
            return True
        tolerations = as_list(node.get("tolerations", [{"operator": "Exists", "effect": "NoExecute"}]))
        if all(tolerated(t, tolerations) for t in taints if t.get("effect") in ("NoSchedule", "NoExecute")):
            return True
    return False


def _labels(base: Any, extra: Mapping[str, Any], instance: InstanceType | None, ebs_csi: EbsNode | bool = False,
            taints: tuple[Mapping[str, Any], ...] = (),
            requirements: tuple[Mapping[str, Any], ...] | None = None) -> dict[str, Any]:
    """A node's labels; `requirements`: a Karpenter pool's (None: not a Karpenter pool). The instance's labels are
    there before the EBS CSI driver's selector is matched against them."""
    labels = {**(base if isinstance(base, Mapping) else {}), **extra, "kubernetes.io/os": "linux"}
    if instance is not None:
        labels.update({INSTANCE_TYPE: instance.name, "beta.kubernetes.io/instance-type": instance.name,
                       ARCH: instance.arch.replace("x86_64", "amd64")})
    if ebs_csi is not False and ebs_csi_runs(
            None if ebs_csi is True else ebs_csi,
            lambda key, want: may_carry(labels, requirements, key, lambda v: v == want), taints):
        labels[EBS_ZONE] = UNKNOWN  # the node's zone (zones are not modelled here; volume-zone compares them)
    return labels


def _karpenter_types(requirements: list[Mapping[str, Any]]) -> list[InstanceType | None]:
    """Instance types a NodePool's requirements allow, when they pin types or families; else unknown."""
    cat = catalogue()
    allowed: list[InstanceType] | None = None
    for req in requirements:
        key, op, values = req.get("key"), req.get("operator"), as_list(req.get("values"))
        if op != "In" or key not in (INSTANCE_TYPE, "karpenter.k8s.aws/instance-family"):
            continue
        names = {t: t.name if key == INSTANCE_TYPE else t.name.split(".")[0] for t in cat.values()}
        chosen = [t for t, n in names.items() if n in values]
        if not set(values) <= {names[t] for t in chosen}:
            return [None]  # a type or family outside the catalogue: sizes unknown
        allowed = chosen if allowed is None else [t for t in allowed if t in chosen]
    return [None] if allowed is None or not allowed else list(allowed)


def group_subnets(idx: Index, res: Resource, prop: str = "subnetIds") -> tuple[Resource, ...] | None:
    """The stack's subnets `res.<prop>` holds; None: not known. A property dependency says which resources the value
    was computed from, not that it holds each of them (`Output.all(a, b, c).apply(lambda ids: ids[:1])` depends on
    three subnets and holds one), so the IDs decide: matched to the subnets' `id` where the records carry it, else
    the dependencies count only when the value has exactly as many entries as there are dependencies."""
    subnets = tuple(s for u in res.property_dependencies.get(prop, ()) if (s := idx.get(u)) and s.type == SUBNET)
    ids = res.get(prop)
    if not subnets:
        return None
    if not isinstance(ids, list):  # wholly unknown: which of the dependencies it holds is not known
        return subnets if len(subnets) == 1 else None
    chosen = tuple(s for s in subnets if isinstance(s.get("id"), str) and s.get("id") in ids)
    if chosen:  # the values are the subnets' IDs: those it holds (an ID of no subnet here: not known)
        return chosen if len(chosen) == len(set(map(str, ids))) else None
    return subnets if len(ids) == len(subnets) else None


def group_instance_types(idx: Index, group: Resource) -> list[Any] | None:
    """A managed node group's instance type names (EKS CreateNodegroup): `instanceTypes`, else its launch template's
    `instanceType`, else t3.medium when no launch template names one; None: a launch template made outside the
    stack (its instance type is not known)."""
    templates = [t for u in group.property_dependencies.get("launchTemplate", ()) if (t := idx.get(u))]
    from_template = [t.get("instanceType") for t in templates if t.get("instanceType")]
    names = group.get("instanceTypes") or from_template
    if names:
        return names if isinstance(names, list) else None
    return ["t3.medium"] if group.get("launchTemplate") is None or templates else None


def node_types(idx: Index) -> Iterator[NodeType]:
    ebs: EbsNode | bool = ebs_csi_node_settings(idx) if ebs_csi_installed(idx) else False
    for group in idx.of_type(NODE_GROUP):
        name = group.get("nodeGroupName") or group.name
        capacity = "SPOT" if group.get("capacityType") == "SPOT" else "ON_DEMAND"
        extra = {"eks.amazonaws.com/nodegroup": group.get("nodeGroupName") or UNKNOWN,  # unset: autonamed
                 "eks.amazonaws.com/capacityType": capacity}
        for inst in _types(group_instance_types(idx, group)):
            taints = _taints(group.get("taints"))
            yield NodeType(f"node group {name}", inst, _labels(group.get("labels"), extra, inst, ebs, taints), taints)
    for group in idx.of_type(*EKS_GROUPS):
        types = group.get("instanceTypes") or ([group.get("instanceType")] if group.get("instanceType") else None)
        for inst in _types(types):
            taints = _taints(group.get("taints"))
            yield NodeType(f"node group {group.name}", inst, _labels(group.get("labels"), {}, inst, ebs, taints), taints)
    for cluster in idx.of_type("eks:index:Cluster"):  # pulumi-eks: a default node group unless skipped
        if cluster.get("skipDefaultNodeGroup") is not True and not cluster.get("fargate"):
            types = [cluster.get("instanceType")] if isinstance(cluster.get("instanceType"), str) else None
            for inst in _types(types):
                yield NodeType(f"default node group of {cluster.name}", inst, _labels(None, {}, inst, ebs), ())
    for pool in idx.of_type(*NODE_POOLS):
        name = meta(pool)[1] or pool.name
        template = pool.get("spec", "template")
        reqs = [r for r in as_list(pool.get("spec", "template", "spec", "requirements")) if isinstance(r, Mapping)]
        fixed = {r["key"]: as_list(r.get("values"))[0] for r in reqs
                 if r.get("operator") == "In" and len(as_list(r.get("values"))) == 1 and isinstance(r.get("key"), str)}
        taints = _taints(pool.get("spec", "template", "spec", "taints"))
        for inst in _karpenter_types(reqs):
            labels = _labels((template or {}).get("metadata", {}).get("labels") if isinstance(template, Mapping)
                             else None, {**fixed, "karpenter.sh/nodepool": name}, inst, ebs, taints, tuple(reqs))
            yield NodeType(f"NodePool {name}", inst, labels, taints, tuple(reqs), VM_OVERHEAD)


def unknown_nodes(idx: Index) -> str | None:
    """Why the stack's nodes cannot be known, or None: self-managed groups (launch templates' user data sets labels
    and taints), EKS Auto Mode, Fargate-only."""
    if idx.of_type("aws:autoscaling/group:Group"):
        return "self-managed Auto Scaling groups"
    for cluster in idx.of_type("aws:eks/cluster:Cluster"):
        if cluster.get("computeConfig", "enabled") in (True, UNKNOWN):
            return "EKS Auto Mode"
    return None
