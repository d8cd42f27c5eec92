"""Family `ip-capacity`, second review of #30: the subnets a group holds, per-zone balancing, sets of shared subnets,
MAX_ENI, launch templates without a type or made elsewhere. Each case failed before the fix (reviewer's probes)."""

from __future__ import annotations

import json
from typing import Any

from mlops_policies.core import UNKNOWN, Resource, Stack
from mlops_policies.invariants_index import index
from mlops_policies.invariants_ip_capacity import addresses
from mlops_policies.node_model import catalogue

from .helpers import R, messages

IP = "mlops-inv-subnet-ip-capacity"
EKS = R("aws:eks/cluster:Cluster", "eks", {"name": "c"})


def nets(*spec: tuple[str, str, str]) -> list[R]:
    return [R("aws:ec2/subnet:Subnet", n, {"availabilityZone": z, "cidrBlock": cidr}) for n, z, cidr in spec]


def ng(name: str, subnets: list[str], max_size: int, types: tuple[str, ...] = ("m5.large",),
       ids: Any = None, **extra: Any) -> R:
    """A managed node group; `ids`: the subnetIds value (default: the IDs of `subnets`, as the plan records them)."""
    inputs = {"nodeGroupName": name, "subnetIds": [f"{s}-id" for s in subnets] if ids is None else ids,
              "scalingConfig": {"minSize": 0, "maxSize": max_size}, **({"instanceTypes": list(types)} if types else {}),
              **extra}
    deps = {"subnetIds": subnets, **({"launchTemplate": ["lt"]} if (extra.get("launchTemplate") or {}).get("id") == "lt" else {})}
    return R("aws:eks/nodeGroup:NodeGroup", name, inputs, deps=deps)


THREE = nets(("net-a", "us-east-1a", "10.0.0.0/25"), ("net-b", "us-east-1b", "10.0.1.0/25"),
             ("net-c", "us-east-1c", "10.0.2.0/25"))  # 123 usable each


def test_a_group_holds_the_subnets_its_ids_name_not_every_dependency() -> None:
    # Output.all(a, b, c).apply(lambda ids: ids[:1]): depends on three subnets, runs in one (prod gpu_pool.py's p5
    # pool). m5.xlarge full node: 60 addresses; 3 x 60 = 180 > 123 in net-a alone, <= 369 over the three.
    one_az = ng("p5", ["net-a", "net-b", "net-c"], 3, ("m5.xlarge",), ids=["net-a-id"])
    found = messages(IP, [EKS, *THREE, one_az])
    assert len(found) == 1 and "subnets net-a (10.0.0.0/25) hold 123" in found[0], found
    assert "3 x m5.xlarge" in found[0]
    assert messages(IP, [EKS, *THREE, ng("p5", ["net-a", "net-b", "net-c"], 3, ("m5.xlarge",))]) == []


def test_group_subnets_unknown_when_the_value_cannot_say_which() -> None:
    from mlops_policies.node_model import group_subnets  # new in this change: imported here, the other tests run alone

    subnets = [Resource("aws:ec2/subnet:Subnet", n, f"urn:{n}", {"id": f"{n}-id"}) for n in ("a", "b", "c")]

    def group(value: Any, deps: tuple[str, ...] = ("urn:a", "urn:b", "urn:c")) -> Resource:
        return Resource("aws:eks/nodeGroup:NodeGroup", "g", "urn:g", {"subnetIds": value}, {"subnetIds": deps})

    idx = index(Stack([*subnets]))
    assert [s.name for s in group_subnets(idx, group(["b-id"])) or ()] == ["b"]
    assert group_subnets(idx, group(["b-id", "subnet-elsewhere"])) is None  # one ID is no subnet here
    assert group_subnets(idx, group(UNKNOWN)) is None  # wholly unknown over three dependencies
    assert [s.name for s in group_subnets(idx, group(UNKNOWN, ("urn:a",))) or ()] == ["a"]
    plain = [Resource("aws:ec2/subnet:Subnet", n, f"urn:{n}", {}) for n in ("a", "b", "c")]  # no IDs recorded
    idx = index(Stack(plain))
    assert group_subnets(idx, group([UNKNOWN])) is None  # one value, three dependencies
    assert len(group_subnets(idx, group([UNKNOWN, UNKNOWN, UNKNOWN])) or ()) == 3


def test_auto_scaling_balances_a_group_across_its_zones() -> None:
    # /24 (251) in a, /28 (11) in b; maxSize 8: 240 <= 262 in total, but 4 nodes a zone: 4 x 30 = 120 > 11 in b
    uneven = nets(("sa", "us-east-1a", "10.0.1.0/24"), ("sb", "us-east-1b", "10.0.2.0/28"))
    found = messages(IP, [EKS, *uneven, ng("w", ["sa", "sb"], 8)])
    assert len(found) == 1 and "node group w in us-east-1b: 4 x m5.large" in found[0], found
    assert "sb (10.0.2.0/28) hold 11" in found[0] and "Auto Scaling balances" in found[0]
    even = nets(("sa", "us-east-1a", "10.0.1.0/24"), ("sb", "us-east-1b", "10.0.2.0/24"))
    assert messages(IP, [EKS, *even, ng("w", ["sa", "sb"], 16)]) == []  # 8 x 30 = 240 <= 251 in each
    # the odd node goes to the zone with room: 9 over /24 + /25 -> 5 in a (150 <= 251), 4 in b (120 <= 123)
    odd = nets(("sa", "us-east-1a", "10.0.1.0/24"), ("sb", "us-east-1b", "10.0.2.0/25"))
    assert messages(IP, [EKS, *odd, ng("w", ["sa", "sb"], 9)]) == []


def test_a_group_over_a_larger_set_does_not_hide_an_overflow_inside_it() -> None:
    # a and b on s1 (/24: 251): 180 + 180 = 360 > 251; d on s1 + s2 (/20: 4091) links them to a big subnet (all
    # three: 420 <= 4342, the old connected-component sum), with one node in s1's zone: 390 on s1
    sets = nets(("s1", "us-east-1a", "10.0.1.0/24"), ("s2", "us-east-1b", "10.0.16.0/20"))
    found = messages(IP, [EKS, *sets, ng("a", ["s1"], 6), ng("b", ["s1"], 6), ng("d", ["s1", "s2"], 2)])
    assert len(found) == 1 and "node groups a, b, d share subnets" in found[0] and "at least 390" in found[0], found
    assert "node group d in us-east-1a: 1 x m5.large" in found[0] and "s1 (10.0.1.0/24) hold 251" in found[0]
    assert messages(IP, [EKS, *sets, ng("a", ["s1"], 3), ng("b", ["s1"], 3), ng("d", ["s1", "s2"], 2)]) == []  # 210


def test_max_eni_caps_the_addresses_a_node_holds() -> None:
    m5 = catalogue()["m5.large"]
    assert addresses(m5, 2, {"MAX_ENI": "1"}) == 10 and addresses(m5, 2, {"MAX_ENI": "0"}) == 30
    assert addresses(m5, 2, {"MAX_ENI": "9"}) == 30  # never above the instance's ENIs
    cni = R("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni",
                                          "configurationValues": json.dumps({"env": {"MAX_ENI": "1"}})})
    one = nets(("sa", "us-east-1a", "10.0.1.0/24"))
    assert messages(IP, [EKS, *one, cni, ng("w", ["sa"], 20)]) == []  # 20 x 10 = 200 <= 251
    assert messages(IP, [EKS, *one, ng("w", ["sa"], 20)]) != []  # 20 x 30 = 600 without it


def test_launch_templates_without_a_type_or_made_elsewhere() -> None:
    one = nets(("sa", "us-east-1a", "10.0.1.0/24"))
    lt = R("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"metadataOptions": {"httpTokens": "required"}})
    # in the stack, no instance type, no instanceTypes: EKS launches t3.medium (18 addresses); 40 x 18 = 720 > 251
    found = messages(IP, [EKS, *one, lt, ng("w", ["sa"], 40, (), launchTemplate={"id": "lt", "version": "1"})])
    assert len(found) == 1 and "40 x t3.medium" in found[0], found
    # made elsewhere (a literal id): it may name a custom AMI, where EKS's maxPods cap does not apply: not judged
    assert messages(IP, [EKS, *one, ng("w", ["sa"], 20, launchTemplate={"id": "lt-0abc", "version": "3"})]) == []


def aws_node_patch(env: list[dict[str, Any]]) -> R:
    return R("kubernetes:apps/v1:DaemonSetPatch", "aws-node-pd", {
        "metadata": {"name": "aws-node", "namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": [{"name": "aws-node", "env": env}]}}}})


def test_aws_node_settings_from_a_daemonset_patch_or_pulumi_eks() -> None:
    """Fresh review of the families, finding 7: prefix delegation set by a DaemonSetPatch of aws-node or by pulumi-eks
    VpcCniAddon is another address model (20 m5.large nodes need 600 addresses of a /24's 251)."""
    one = nets(("sa", "us-east-1a", "10.0.1.0/24"))
    workers = ng("w", ["sa"], 20)
    assert messages(IP, [EKS, *one, workers]) != []  # the secondary-IP model: judged
    prefix = [{"name": "ENABLE_PREFIX_DELEGATION", "value": "true"}, {"name": "WARM_PREFIX_TARGET", "value": "1"}]
    assert messages(IP, [EKS, *one, aws_node_patch(prefix), workers]) == []
    off = [{"name": "ENABLE_PREFIX_DELEGATION", "value": "false"},
           {"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert messages(IP, [EKS, *one, aws_node_patch(off), workers]) != []
    referenced = [{"name": "ENABLE_PREFIX_DELEGATION", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}]
    assert messages(IP, [EKS, *one, aws_node_patch(referenced), workers]) == []  # not known: not judged
    addon = R("eks:index:VpcCniAddon", "cni", {"clusterName": "c", "enablePrefixDelegation": True})
    assert messages(IP, [EKS, *one, addon, workers]) == []
    over = R("eks:index:VpcCniAddon", "cni", {"clusterName": "c", "enablePrefixDelegation": True,
                                               "configurationValues": {"env": {"ENABLE_PREFIX_DELEGATION": "false"}}})
    assert messages(IP, [EKS, *one, over, workers]) != []  # configurationValues.env is merged over the inputs


def test_a_cluster_without_the_vpc_cni_is_not_judged() -> None:
    """bootstrapSelfManagedAddons false, no vpc-cni, Cilium in overlay mode: pods do not take subnet addresses."""
    one = nets(("sa", "us-east-1a", "10.0.1.0/26"))
    bare = R("aws:eks/cluster:Cluster", "eks", {"name": "c", "bootstrapSelfManagedAddons": False})
    cilium = R("kubernetes:helm.sh/v3:Release", "cilium", {
        "chart": "cilium", "namespace": "kube-system", "repositoryOpts": {"repo": "https://helm.cilium.io"},
        "values": {"ipam": {"mode": "cluster-pool"}, "routingMode": "tunnel", "tunnelProtocol": "vxlan"}})
    workers = ng("w", ["sa"], 6)
    assert messages(IP, [bare, *one, cilium, workers]) == []
    vpc_cni = R("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni"})
    assert messages(IP, [bare, *one, cilium, vpc_cni, workers]) != []  # the add-on installs aws-node after all
    assert messages(IP, [EKS, *one, cilium, workers]) != []  # EKS bootstraps aws-node by default
