"""Family `ip-capacity` (#30, added from public EKS issues): node groups at their maximum fit their subnets.

With the Amazon VPC CNI (EKS's default) every pod that is not on the host network takes an IPv4 address of its
node's subnet (EKS user guide, "Assign IPs to Pods with the Amazon VPC CNI":
https://docs.aws.amazon.com/eks/latest/userguide/managing-vpc-cni.html). A subnet of prefix /n holds `2^(32-n) - 5`
addresses (AWS reserves the first four and the last: https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html).
When the node groups on a set of subnets, at their maximum size and full, need more addresses than the subnets hold,
the autoscaler adds nodes the scheduler fills and their pods fail with "failed to assign an IP address to
container" (aws/amazon-vpc-cni-k8s#547, #1245, #2846; karpenter-provider-aws#4037 troubleshooting for IP
exhaustion). `mlops-inv-subnet-ip-capacity` checks, for each managed node group alone and for each set of groups
that share subnets, that `sum(maxSize * addresses of a full node)` fits the usable addresses of their subnets.

A full node: the kubelet admits `maxPods` pods, the ENI-based number (`ENIs * (IPv4 per ENI - 1) + 2`,
amazon-eks-ami eni_max_pods.go) capped by EKS for a managed node group without a custom AMI at 110 below 30 vCPUs
and 250 above (EKS user guide, choosing-instance-type, "How maxPods is determined": "Managed node group
enforcement", which takes precedence over any maxPods the user data sets); its pod addresses are `maxPods` minus the
pods on the host network (aws-node and kube-proxy, eks-pod-identity-agent when that add-on is installed, and every
hostNetwork DaemonSet of the stack). Each ENI gives `IPv4 per ENI - 1` secondary addresses to pods, and ipamd keeps
WARM_ENI_TARGET (default 1) spare ENIs attached, each filled with all its addresses (amazon-vpc-cni-k8s README,
WARM_ENI_TARGET): the node holds `min(ENIs, ceil(pod addresses / (IPv4 per ENI - 1)) + WARM_ENI_TARGET) * IPv4 per
ENI` addresses, its own included. With WARM_IP_TARGET or MINIMUM_IP_TARGET set, ipamd allocates addresses one by one:
the node holds at least its pod addresses plus one primary address per attached ENI.

The bound stays low: each node counts the smallest of its group's instance types, every hostNetwork DaemonSet is
taken to run on it, and the other users of the subnets (the cluster's ENIs, load balancers, endpoints, databases)
are not counted, so a finding means the subnets cannot hold the groups' pods even in the best case. Not judged:
prefix delegation (`ENABLE_PREFIX_DELEGATION`: /28 prefixes, another address model), custom networking (ENIConfig,
`AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG`: pods take addresses of other subnets), IPv6 clusters, groups whose launch
template names an AMI (`imageId`: a custom AMI, whose bootstrap sets maxPods), Windows groups (another IPAM), groups
with an instance type outside the catalogue or subnets made elsewhere, Karpenter NodePools (no node count),
pulumi-eks groups and self-managed Auto Scaling groups.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .core import UNKNOWN, Resource, Stack, as_list, stack_policy
from .invariants_cluster import PACK
from .invariants_index import ADDON, CLUSTER, NODE_GROUP, Index, doc, index
from .node_model import InstanceType, catalogue

SUBNET = "aws:ec2/subnet:Subnet"
AWS_NODE_ENV = ("ENABLE_PREFIX_DELEGATION", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG")
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


def cni_env(idx: Index) -> dict[str, str] | None:
    """The VPC CNI's (aws-node) environment as the stack sets it, add-on configuration and DaemonSet; None: unknown."""
    env: dict[str, str] = {}
    for addon in idx.of_type(ADDON):
        if addon.get("addonName") == "vpc-cni":
            cfg = doc(addon.get("configurationValues"))
            if cfg is UNKNOWN:
                return None
            values = cfg.get("env") if isinstance(cfg, Mapping) else None
            env.update({str(k): str(v) for k, v in (values.items() if isinstance(values, Mapping) else [])})
    for ds in idx.of_type("kubernetes:apps/v1:DaemonSet"):
        if ds.get("metadata", "name") == "aws-node":
            for c in as_list(ds.get("spec", "template", "spec", "containers")):
                if isinstance(c, Mapping):
                    env.update({str(e.get("name")): str(e.get("value")) for e in as_list(c.get("env"))
                                if isinstance(e, Mapping)})
    return env


def cni_model_unknown(idx: Index) -> str | None:
    """Why the VPC CNI's address model here is not the one judged (None: secondary IPs on the node's subnet)."""
    for cluster in idx.of_type(CLUSTER):
        if str(cluster.get("kubernetesNetworkConfig", "ipFamily") or "ipv4") != "ipv4":
            return "an IPv6 or unknown IP family"
    if idx.of_type(ENI_CONFIG):
        return "custom networking (ENIConfig)"
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


def addresses(inst: InstanceType, host: int, env: Mapping[str, str]) -> int:
    """VPC addresses a full node of `inst` holds (see the module docstring)."""
    pods = max(0, inst.pod_slots - host)
    for_pods = math.ceil(pods / (inst.ipv4_per_eni - 1))
    if env.get("WARM_IP_TARGET") or env.get("MINIMUM_IP_TARGET"):
        return pods + max(1, for_pods)
    return min(inst.enis, for_pods + int(env.get("WARM_ENI_TARGET", "1"))) * inst.ipv4_per_eni


def groups(idx: Index) -> Iterator[Group]:
    cat = catalogue()
    env = cni_env(idx) or {}
    host = host_network_pods(idx)
    for group in idx.of_type(NODE_GROUP):
        max_size = group.get("scalingConfig", "maxSize")
        subnets = tuple(s for u in group.property_dependencies.get("subnetIds", ()) if (s := idx.get(u))
                        and s.type == SUBNET)
        ids = group.get("subnetIds")
        if not isinstance(max_size, int) or not subnets or (isinstance(ids, list) and len(ids) > len(subnets)):
            continue
        if str(group.get("amiType") or "").startswith("WINDOWS"):
            continue
        templates = [t for u in group.property_dependencies.get("launchTemplate", ()) if (t := idx.get(u))]
        if any(t.get("imageId") not in (None, "") for t in templates):
            continue  # a custom AMI: its own bootstrap sets maxPods, EKS enforces no cap
        names = group.get("instanceTypes") or [t.get("instanceType") for t in templates if t.get("instanceType")]
        if not names and group.get("launchTemplate") is None:
            names = ["t3.medium"]  # EKS CreateNodegroup's default
        if not isinstance(names, list) or not names or any(
                not isinstance(n, str) or n not in cat or not cat[n].enis or cat[n].ipv4_per_eni < 2 for n in names):
            continue
        smallest = min(names, key=lambda n: addresses(cat[n], host, env))
        yield Group(group, str(group.get("nodeGroupName") or group.name), max_size, cat[smallest].pod_slots,
                    addresses(cat[smallest], host, env), smallest, subnets)


def _shared(items: list[Group]) -> list[list[Group]]:
    """Sets of groups linked by a shared subnet (connected components)."""
    parts: list[tuple[set[str], list[Group]]] = []
    for g in items:
        urns = {s.urn for s in g.subnets}
        joined = [p for p in parts if p[0] & urns]
        merged = (urns.union(*(p[0] for p in joined)), [x for p in joined for x in p[1]] + [g])
        parts = [p for p in parts if p not in joined] + [merged]
    return [p[1] for p in parts]


def _message(members: list[Group], subnets: list[Resource], need: int, have: int) -> str:
    who = "; ".join(f"node group {g.name}: {g.max_size} x {g.instance} ({g.pods} max pods, {g.per_node} addresses "
                    f"a full node) = {g.need}" for g in members)
    nets = ", ".join(f"{s.name} ({s.get('cidrBlock')})" for s in subnets)
    subject = (f"node group {members[0].name} at maximum size, with full nodes, takes" if len(members) == 1 else
               f"node groups {', '.join(g.name for g in members)} share subnets: at maximum size, with full nodes, "
               "they take")
    return (f"{subject} at least {need} VPC addresses ({who}), but the subnets "
            f"{nets} hold {have} (5 are reserved in each): pods fail with \"failed to assign an IP address to "
            "container\"; use larger subnets (or add some to the groups), lower maxSize, or enable prefix "
            "delegation or custom networking")


def capacity_findings(idx: Index) -> Iterator[Finding]:
    if cni_model_unknown(idx):
        return
    items = list(groups(idx))
    reported: set[frozenset[str]] = set()
    for g in items:  # each group alone, on its own subnets
        have = [usable(s) for s in g.subnets]
        if all(h is not None for h in have) and g.need > sum(h or 0 for h in have):
            reported.add(frozenset({g.res.urn}))
            yield g.res, _message([g], list(g.subnets), g.need, sum(h or 0 for h in have))
    for members in _shared(items):
        if len(members) < 2 or any(frozenset({g.res.urn}) in reported for g in members):
            continue
        subnets = list({s.urn: s for g in members for s in g.subnets}.values())
        have = [usable(s) for s in subnets]
        need = sum(g.need for g in members)
        if all(h is not None for h in have) and need > sum(h or 0 for h in have):
            yield max(members, key=lambda g: g.need).res, _message(members, subnets, need, sum(h or 0 for h in have))


@stack_policy(
    "mlops-inv-subnet-ip-capacity",
    description="With the VPC CNI's default address model, the managed node groups on a set of subnets, at their "
                "maximum size with full nodes (maxPods capped by EKS at 110/250, the pods' addresses on whole ENIs "
                "plus WARM_ENI_TARGET spare ENIs), fit the subnets' usable addresses (size - 5); each group alone and "
                "each set of groups sharing subnets.",
    severity="medium", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Give the node groups larger (or more) subnets, lower their maxSize, or enable VPC CNI prefix "
                "delegation or custom networking (a secondary CIDR for pods).",
)
def subnet_ip_capacity(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return capacity_findings(index(stack))
