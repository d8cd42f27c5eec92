"""Family `ip-capacity` (#30, added from public EKS issues): node groups at their maximum fit their subnets.

With the Amazon VPC CNI (EKS's default) every pod that is not on the host network takes an IPv4 address of its
node's subnet (EKS user guide, "Assign IPs to Pods with the Amazon VPC CNI":
https://docs.aws.amazon.com/eks/latest/userguide/managing-vpc-cni.html). A subnet of prefix /n holds `2^(32-n) - 5`
addresses (AWS reserves the first four and the last: https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html).
When the node groups on a set of subnets, at their maximum size and full, need more addresses than the subnets hold,
the autoscaler adds nodes the scheduler fills and their pods fail with "failed to assign an IP address to
container" (aws/amazon-vpc-cni-k8s#547, #1245, #2846; karpenter-provider-aws#4037 troubleshooting for IP
exhaustion). `mlops-inv-subnet-ip-capacity` checks that the managed node groups at maximum size, with full nodes,
fit their subnets, zone by zone and for every set of subnets:
- a group's subnets are the ones its `subnetIds` holds (node_model.group_subnets: matched by ID, not every subnet
  the value was computed from);
- Auto Scaling keeps a group's instances balanced across its Availability Zones ("Amazon EC2 Auto Scaling attempts
  to distribute instances evenly between the Availability Zones that are enabled for your Auto Scaling group", EC2
  Auto Scaling user guide, "Rebalancing activities"; it does not know that a zone's subnet is out of pod addresses), so
  each zone takes `maxSize // zones` nodes, the remainder one each in the zones with the most room;
- for every set S of subnets (Hall's condition over the groups' zone parts), the nodes of the parts whose subnets all
  lie in S fit S's usable addresses: a group that also spans a large subnet does not hide an overflow among the others.

A full node: the kubelet admits `maxPods` pods, the ENI-based number (`ENIs * (IPv4 per ENI - 1) + 2`,
amazon-eks-ami eni_max_pods.go) capped by EKS for a managed node group without a custom AMI at 110 below 30 vCPUs
and 250 above (EKS user guide, choosing-instance-type, "How maxPods is determined": "Managed node group
enforcement", which takes precedence over any maxPods the user data sets); its pod addresses are `maxPods` minus the
pods on the host network (aws-node and kube-proxy, eks-pod-identity-agent when that add-on is installed, and every
hostNetwork DaemonSet of the stack). Each ENI gives `IPv4 per ENI - 1` secondary addresses to pods, and ipamd keeps
WARM_ENI_TARGET (default 1) spare ENIs attached, each filled with all its addresses (amazon-vpc-cni-k8s README,
WARM_ENI_TARGET): the node holds `min(ENIs, ceil(pod addresses / (IPv4 per ENI - 1)) + WARM_ENI_TARGET) * IPv4 per
ENI` addresses, its own included. With WARM_IP_TARGET or MINIMUM_IP_TARGET set, ipamd allocates addresses one by one:
the node holds at least its pod addresses plus one primary address per attached ENI. MAX_ENI > 0 caps the ENIs
ipamd attaches ("limited by the maximum number for the instance type"), and so the node's addresses.

The bound stays low: each node counts the smallest of its group's instance types, every hostNetwork DaemonSet is
taken to run on it, and the other users of the subnets (the cluster's ENIs, load balancers, endpoints, databases)
are not counted, so a finding means the subnets cannot hold the groups' pods even in the best case. The aws-node
settings are read from the vpc-cni add-on (aws:eks/addon configurationValues, pulumi-eks VpcCniAddon inputs or an
eks:index:Cluster's `vpcCniOptions`, mapped as pulumi-eks `computeEnv` does), then an aws-node DaemonSet or a
DaemonSetPatch in kube-system (its namespace, else its provider's default namespace). Not judged: prefix delegation
(`ENABLE_PREFIX_DELEGATION`: /28 prefixes, another address model), custom networking (ENIConfig,
`AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG`: pods take addresses of other subnets), a cluster without the VPC CNI
(`bootstrapSelfManagedAddons: false` and none installed: another CNI's addresses), IPv6 clusters, groups whose launch
template names an AMI (`imageId`: a custom AMI, whose bootstrap sets maxPods) or is made elsewhere (a literal
`id`: it may name one), Windows groups (another IPAM), groups
with an instance type outside the catalogue or subnets made elsewhere, Karpenter NodePools (no node count),
pulumi-eks groups and self-managed Auto Scaling groups.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .core import Resource, Stack, stack_policy
from .invariants_cluster import PACK
from .invariants_index import CLUSTER, NODE_GROUP, Index, index
from .node_model import InstanceType, catalogue, group_instance_types, group_subnets
from .vpc_cni_env import AWS_NODE_ENV, VPC_CNI_ADDON, cni_env

ENI_CONFIG = "kubernetes:crd.k8s.amazonaws.com/v1alpha1:ENIConfig"
Finding = tuple[Resource, str]


@dataclass(frozen=True)
class Group:
    res: Resource
    name: str
    max_size: int
    pods: int
    """Pods a full node admits (maxPods, capped)."""
    per_node: int
    """VPC addresses a full node holds."""
    instance: str
    subnets: tuple[Resource, ...]

    @property
    def need(self) -> int:
        return self.max_size * self.per_node


def usable(subnet: Resource) -> int | None:
    cidr = subnet.get("cidrBlock")
    try:
        net = ipaddress.ip_network(cidr) if isinstance(cidr, str) else None
    except ValueError:
        return None
    return None if net is None or net.version != 4 else max(0, net.num_addresses - 5)


def no_vpc_cni(idx: Index) -> bool:
    """Whether the cluster runs without the VPC CNI: EKS creates no aws-node with `bootstrapSelfManagedAddons: false`
    (EKS API CreateCluster), and the stack installs none (vpc-cni add-on, VpcCniAddon, aws-node DaemonSet, chart
    aws-vpc-cni): pods take another CNI's addresses (an overlay such as Cilium's cluster-pool), not the subnets'."""
    clusters = idx.of_type(CLUSTER)
    return bool(clusters) and all(c.get("bootstrapSelfManagedAddons") is False for c in clusters) and not (
        "vpc-cni" in idx.addons or idx.of_type(VPC_CNI_ADDON) or idx.releases("aws-vpc-cni")
        or any(d.get("metadata", "name") == "aws-node" for d in idx.of_type("kubernetes:apps/v1:DaemonSet")))


def cni_model_unknown(idx: Index) -> str | None:
    """Why the VPC CNI's address model here is not the one judged (None: secondary IPs on the node's subnet)."""
    for cluster in idx.of_type(CLUSTER):
        if str(cluster.get("kubernetesNetworkConfig", "ipFamily") or "ipv4") != "ipv4":
            return "an IPv6 or unknown IP family"
    if idx.of_type(ENI_CONFIG):
        return "custom networking (ENIConfig)"
    if no_vpc_cni(idx):
        return "no VPC CNI (bootstrapSelfManagedAddons false and none installed)"
    env = cni_env(idx)
    if env is None:
        return "unknown vpc-cni configuration"
    if any(env.get(k, "false").lower() != "false" for k in AWS_NODE_ENV):
        return "prefix delegation or custom networking"
    if not env.get("WARM_ENI_TARGET", "1").isdigit():
        return "an unknown WARM_ENI_TARGET"
    return None


def host_network_pods(idx: Index) -> int:
    """Pods of a node on the host network (they take no pod address): aws-node and kube-proxy (the `+ 2` of
    maxPods), eks-pod-identity-agent when installed (a hostNetwork DaemonSet), and the stack's hostNetwork
    DaemonSets (all taken to run on every node: the bound stays low)."""
    names = {"aws-node", "kube-proxy"} | ({"eks-pod-identity-agent"} if "eks-pod-identity-agent" in idx.addons
                                          else set())
    for ds in idx.of_type("kubernetes:apps/v1:DaemonSet"):
        if ds.get("spec", "template", "spec", "hostNetwork") is True:
            names.add(str(ds.get("metadata", "name") or ds.name))
    return len(names)


def max_enis(inst: InstanceType, env: Mapping[str, str]) -> int:
    """ENIs ipamd attaches: the instance's, or fewer with MAX_ENI > 0 (amazon-vpc-cni-k8s README, MAX_ENI: "limited
    by the maximum number for the instance type"; unset, 0 or lower: not used)."""
    raw = env.get("MAX_ENI", "")
    cap = int(raw) if raw.lstrip("-").isdigit() else 0
    return min(inst.enis, cap) if cap > 0 else inst.enis


def addresses(inst: InstanceType, host: int, env: Mapping[str, str]) -> int:
    """VPC addresses a full node of `inst` holds (see the module docstring)."""
    enis = max_enis(inst, env)
    pods = min(max(0, inst.pod_slots - host), enis * (inst.ipv4_per_eni - 1))
    for_pods = math.ceil(pods / (inst.ipv4_per_eni - 1))
    if env.get("WARM_IP_TARGET") or env.get("MINIMUM_IP_TARGET"):
        return pods + max(1, for_pods)
    return min(enis, for_pods + int(env.get("WARM_ENI_TARGET", "1"))) * inst.ipv4_per_eni


def groups(idx: Index) -> Iterator[Group]:
    cat = catalogue()
    env = cni_env(idx) or {}
    host = host_network_pods(idx)
    for group in idx.of_type(NODE_GROUP):
        max_size = group.get("scalingConfig", "maxSize")
        subnets = group_subnets(idx, group)
        if not isinstance(max_size, int) or not subnets or str(group.get("amiType") or "").startswith("WINDOWS"):
            continue
        templates = [t for u in group.property_dependencies.get("launchTemplate", ()) if (t := idx.get(u))]
        if group.get("launchTemplate") is not None and not templates:
            continue  # a launch template made elsewhere: it may name a custom AMI (no cap) or an instance type
        if any(t.get("imageId") not in (None, "") for t in templates):
            continue  # a custom AMI: its own bootstrap sets maxPods, EKS enforces no cap
        names = group_instance_types(idx, group)
        if not isinstance(names, list) or not names or any(
                not isinstance(n, str) or n not in cat or not cat[n].enis or cat[n].ipv4_per_eni < 2 for n in names):
            continue
        smallest = min(names, key=lambda n: addresses(cat[n], host, env))
        yield Group(group, str(group.get("nodeGroupName") or group.name), max_size, cat[smallest].pod_slots,
                    addresses(cat[smallest], host, env), smallest, subnets)


@dataclass(frozen=True)
class Part:
    """The nodes of one group in one zone: Auto Scaling keeps an equal number in each zone of the group."""

    group: Group
    zone: str
    nodes: int
    subnets: frozenset[str]

    @property
    def need(self) -> int:
        return self.nodes * self.group.per_node


def parts(g: Group) -> list[Part]:
    """A group's nodes per zone at maximum size. "Amazon EC2 Auto Scaling attempts to distribute instances evenly
    between the Availability Zones that are enabled for your Auto Scaling group" (EC2 Auto Scaling user guide,
    "Rebalancing activities"; EKS managed node groups run on an Auto Scaling group over the node group's subnets):
    `maxSize // zones` each, the remainder one per zone in the zones with the most room (the best case). Subnets of
    unknown zone: one zone."""
    by_zone: dict[str, list[Resource]] = {}
    for sub in g.subnets:
        az = sub.get("availabilityZone")
        by_zone.setdefault(az if isinstance(az, str) and az else "", []).append(sub)
    if "" in by_zone and len(by_zone) > 1:
        by_zone = {"": list(g.subnets)}
    base, extra = divmod(g.max_size, len(by_zone))

    def room(item: tuple[str, list[Resource]]) -> int:
        return sum(usable(s) or 0 for s in item[1])

    ordered = sorted(by_zone.items(), key=room, reverse=True)
    return [Part(g, zone, base + (1 if i < extra else 0), frozenset(s.urn for s in subs))
            for i, (zone, subs) in enumerate(ordered)]


def _candidate_sets(items: list[Part]) -> list[frozenset[str]]:
    """Subnet sets to check (Hall's condition: every union of the parts' subnet sets), smallest first; above 12
    distinct sets, each set and each connected union only."""
    distinct = sorted({p.subnets for p in items}, key=lambda x: (len(x), sorted(x)))
    if len(distinct) > 12:
        merged: list[frozenset[str]] = []
        for cur in distinct:
            joined = [m for m in merged if m & cur]
            merged = [m for m in merged if m not in joined] + [cur.union(*joined)]
        unions = set(distinct) | set(merged)
    else:
        unions = {frozenset().union(*combo) for n in range(1, len(distinct) + 1)
                  for combo in itertools.combinations(distinct, n)}
    return sorted(unions, key=lambda x: (len(x), sorted(x)))


def _message(inside: list[Part], subnets: list[Resource], need: int, have: int) -> str:
    members = list({p.group.res.urn: p.group for p in inside}.values())
    who = "; ".join(f"node group {p.group.name}" + (f" in {p.zone}" if p.zone and len(parts(p.group)) > 1 else "") + f": {p.nodes} x "
                    f"{p.group.instance} ({p.group.pods} max pods, {p.group.per_node} addresses a full node) = {p.need}"
                    for p in inside)
    zones = sorted({p.zone for p in inside if p.zone})
    spread = [g for g in members if len(parts(g)) > 1]
    balanced = (f" (Auto Scaling balances {', '.join(f'{g.name} (maxSize {g.max_size})' for g in spread)} evenly "
                "across its zones)" if spread and zones else "")
    nets = ", ".join(f"{s.name} ({s.get('cidrBlock')})" for s in subnets)
    subject = (f"node group {members[0].name} at maximum size, with full nodes, takes" if len(members) == 1 else
               f"node groups {', '.join(g.name for g in members)} share subnets: at maximum size, with full nodes, "
               "they take")
    return (f"{subject} at least {need} VPC addresses{balanced} ({who}), but the subnets "
            f"{nets} hold {have} (5 are reserved in each): pods fail with \"failed to assign an IP address to "
            "container\"; use larger subnets (or add some to the groups), lower maxSize, or enable prefix "
            "delegation or custom networking")


def capacity_findings(idx: Index) -> Iterator[Finding]:
    """For each set S of subnets: the nodes of the groups' zones whose subnets all lie in S must fit S."""
    if cni_model_unknown(idx):
        return
    items = [p for g in groups(idx) for p in parts(g) if p.nodes]
    subnet_of = {s.urn: s for p in items for s in p.group.subnets}
    reported: list[frozenset[str]] = []
    for cand in _candidate_sets(items):
        if any(r <= cand for r in reported):
            continue
        inside = [p for p in items if p.subnets <= cand]
        have = [usable(subnet_of[u]) for u in sorted(cand)]
        need = sum(p.need for p in inside)
        if inside and all(h is not None for h in have) and need > sum(h or 0 for h in have):
            reported.append(cand)
            owner = max(inside, key=lambda p: p.need).group.res
            yield owner, _message(inside, [subnet_of[u] for u in sorted(cand)], need, sum(h or 0 for h in have))


@stack_policy(
    "mlops-inv-subnet-ip-capacity",
    description="With the VPC CNI's default address model, the managed node groups on a set of subnets, at their "
                "maximum size with full nodes (maxPods capped by EKS at 110/250, the pods' addresses on whole ENIs "
                "plus WARM_ENI_TARGET spare ENIs, at most MAX_ENI), fit the subnets' usable addresses (size - 5): "
                "each group's nodes balanced across its zones, for every set of subnets the groups' zone parts "
                "that lie in it.",
    severity="medium", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Give the node groups larger (or more) subnets, lower their maxSize, or enable VPC CNI prefix "
                "delegation or custom networking (a secondary CIDR for pods).",
)
def subnet_ip_capacity(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return capacity_findings(index(stack))
