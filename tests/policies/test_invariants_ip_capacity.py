"""Family `ip-capacity`: managed node groups at their maximum, with full nodes, fit their subnets' addresses."""

from __future__ import annotations

import json
from typing import Any

from mlops_policies.core import Resource, Stack
from mlops_policies.invariants_index import index
from mlops_policies.invariants_ip_capacity import addresses, host_network_pods, usable
from mlops_policies.node_model import catalogue

from .helpers import R, messages

IP = "mlops-inv-subnet-ip-capacity"


def subnet(name: str, cidr: str) -> R:
    return R("aws:ec2/subnet:Subnet", name, {"cidrBlock": cidr, "availabilityZone": "us-east-1a"})


def group(name: str, nets: list[str], max_size: int, types: list[str] | None = None, **extra: Any) -> R:
    inputs = {"nodeGroupName": name, "subnetIds": nets, "scalingConfig": {"minSize": 0, "maxSize": max_size},
              **({"instanceTypes": types} if types else {}), **extra}
    deps = {"subnetIds": nets, **({"launchTemplate": ["lt"]} if "launchTemplate" in extra else {})}
    return R("aws:eks/nodeGroup:NodeGroup", name, inputs, deps=deps)


A, B = subnet("a", "10.0.0.0/24"), subnet("b", "10.0.1.0/24")  # 251 usable addresses each


def test_usable_addresses_leave_the_five_aws_reserves() -> None:
    def net(cidr: str) -> Resource:
        return Resource("aws:ec2/subnet:Subnet", "s", "urn:s", {"cidrBlock": cidr})

    assert usable(net("10.0.0.0/24")) == 251 and usable(net("10.0.0.0/28")) == 11 and usable(net("10.0.0.0/19")) == 8187
    assert usable(net("not a cidr")) is None


def test_a_group_at_its_maximum_must_fit_its_subnets() -> None:
    # m5.large: 3 ENIs x 10 addresses, 29 max pods -> 27 pod addresses on 3 ENIs (9 each), the warm ENI has no room:
    # a full node holds 30; 8 x 30 = 240 <= 251, 9 x 30 = 270 > 251
    assert messages(IP, [A, group("workers", ["a"], 8, ["m5.large"])]) == []
    found = messages(IP, [A, group("workers", ["a"], 9, ["m5.large"])])
    assert len(found) == 1, found
    assert found[0].startswith("workers: ") and "at least 270 VPC addresses" in found[0]
    assert "9 x m5.large (29 max pods, 30 addresses a full node)" in found[0] and "a (10.0.0.0/24) hold 251" in found[0]
    assert messages(IP, [A, B, group("workers", ["a", "b"], 16, ["m5.large"])]) == []  # 480 <= 502
    assert messages(IP, [A, B, group("workers", ["a", "b"], 17, ["m5.large"])]) != []  # 510


def test_groups_sharing_subnets_are_summed() -> None:
    one, two = group("cpu", ["a", "b"], 9, ["m5.large"]), group("gpu", ["b"], 9, ["m5.large"])
    found = messages(IP, [A, B, one, two])  # cpu fits alone (270 <= 502), gpu does not (270 > 251)
    assert len(found) == 1 and found[0].startswith("gpu: ")
    one, two = group("cpu", ["a", "b"], 9, ["m5.large"]), group("gpu", ["a", "b"], 8, ["m5.large"])
    found = messages(IP, [A, B, one, two])  # 270 + 240 = 510 > 502
    assert len(found) == 1 and "node groups cpu, gpu share subnets" in found[0] and "at least 510" in found[0]
    apart = [A, B, group("cpu", ["a"], 8, ["m5.large"]), group("gpu", ["b"], 8, ["m5.large"])]
    assert messages(IP, apart) == []


def test_eks_caps_max_pods_of_a_managed_node_group() -> None:
    # review #30 (rfam) finding 2: c6i.4xlarge (16 vCPUs, 8 ENIs x 30) has 234 ENI-based max pods, but EKS caps a
    # managed node group at 110: 108 pod addresses on 4 ENIs + 1 warm ENI = 150 addresses a full node
    c6i = catalogue()["c6i.4xlarge"]
    assert (c6i.max_pods, c6i.pod_slots, c6i.enis, c6i.ipv4_per_eni) == (234, 110, 8, 30)
    assert catalogue()["c5.9xlarge"].pod_slots == 234 and catalogue()["c6a.48xlarge"].pod_slots == 250  # 36, 192 vCPUs
    wide = subnet("s", "10.0.0.0/23")  # 507
    assert messages(IP, [wide, group("batch", ["s"], 3, ["c6i.4xlarge"])]) == []  # 450
    found = messages(IP, [wide, group("batch", ["s"], 4, ["c6i.4xlarge"])])
    assert len(found) == 1 and "4 x c6i.4xlarge (110 max pods, 150 addresses a full node) = 600" in found[0], found
    # the warm ENI counts: 2 x 108 pod addresses fit a /24, the 2 x 150 the nodes hold do not
    assert messages(IP, [A, group("batch", ["a"], 2, ["c6i.4xlarge"])]) != []


def test_warm_ip_targets_and_host_network_pods_lower_a_nodes_addresses() -> None:
    m5 = catalogue()["m5.large"]
    assert addresses(m5, 2, {}) == 30 and addresses(m5, 2, {"WARM_ENI_TARGET": "0"}) == 30
    assert addresses(catalogue()["c6i.4xlarge"], 2, {"WARM_ENI_TARGET": "0"}) == 120  # 4 ENIs
    assert addresses(m5, 2, {"WARM_IP_TARGET": "2"}) == 27 + 3  # one by one: pod addresses + the ENIs' primaries
    assert addresses(m5, 3, {"WARM_IP_TARGET": "2"}) == 26 + 3
    cni = R("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni", "configurationValues": json.dumps(
        {"env": {"WARM_IP_TARGET": "2"}})})
    # c6i.4xlarge one by one: 108 + 4 = 112 a node; 2 x 112 = 224 <= 251
    assert messages(IP, [A, cni, group("batch", ["a"], 2, ["c6i.4xlarge"])]) == []
    exporter = Resource("kubernetes:apps/v1:DaemonSet", "node-exporter", "urn:ds", {
        "metadata": {"name": "node-exporter"},
        "spec": {"template": {"spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "i"}]}}}})
    agent = Resource("aws:eks/addon:Addon", "pia", "urn:pia", {"addonName": "eks-pod-identity-agent"})
    assert host_network_pods(index(Stack([]))) == 2
    idx = index(Stack([exporter, agent]))
    assert host_network_pods(idx) == 4  # aws-node, kube-proxy, eks-pod-identity-agent, node-exporter


def test_the_smallest_type_and_the_launch_template_type_count() -> None:
    mixed = group("mixed", ["a"], 8, ["m5.large", "m5.4xlarge"])  # may launch only m5.large: 8 x 30
    assert messages(IP, [A, mixed]) == []
    lt = R("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "c6i.4xlarge"})
    found = messages(IP, [A, lt, group("batch", ["a"], 2, launchTemplate={"id": "lt-1", "version": "1"})])
    assert len(found) == 1 and "2 x c6i.4xlarge (110 max pods, 150 addresses a full node) = 300" in found[0]
    # user data without a custom AMI: EKS's cap still takes precedence (judged); a custom AMI sets its own maxPods
    with_user_data = R("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "c6i.4xlarge",
                                                                       "userData": "bWF4UG9kczogMTA="})
    assert messages(IP, [A, with_user_data, group("batch", ["a"], 2, launchTemplate={"id": "lt-1"})]) != []
    custom_ami = R("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "c6i.4xlarge",
                                                                   "imageId": "ami-123", "userData": "eA=="})
    assert messages(IP, [A, custom_ami, group("batch", ["a"], 2, launchTemplate={"id": "lt-1"})]) == []
    assert messages(IP, [A, group("default", ["a"], 13)]) == []  # t3.medium: 3 ENIs x 6 = 18 a node; 13 x 18 = 234
    assert messages(IP, [A, group("default", ["a"], 14)]) != []  # 252
    assert messages(IP, [A, group("win", ["a"], 40, ["m5.large"], amiType="WINDOWS_CORE_2022_x86_64")]) == []


def test_other_address_models_and_unknowns_are_not_judged() -> None:
    big = group("workers", ["a"], 40, ["m5.large"])
    prefix = R("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni", "configurationValues": json.dumps(
        {"env": {"ENABLE_PREFIX_DELEGATION": "true"}})})
    assert messages(IP, [A, big, prefix]) == []
    plain = R("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni", "configurationValues": json.dumps(
        {"env": {"ENABLE_PREFIX_DELEGATION": "false"}})})
    assert messages(IP, [A, big, plain]) != []
    eni = R("kubernetes:crd.k8s.amazonaws.com/v1alpha1:ENIConfig", "eni", {"metadata": {"name": "us-east-1a"}})
    assert messages(IP, [A, big, eni]) == []
    ipv6 = R("aws:eks/cluster:Cluster", "c", {"kubernetesNetworkConfig": {"ipFamily": "ipv6"}})
    assert messages(IP, [A, big, ipv6]) == []
    elsewhere = R("aws:eks/nodeGroup:NodeGroup", "workers", {"nodeGroupName": "workers", "subnetIds": ["subnet-1"],
                                                             "instanceTypes": ["m5.large"],
                                                             "scalingConfig": {"maxSize": 40}})
    assert messages(IP, [A, elsewhere]) == []
    assert messages(IP, [A, group("odd", ["a"], 40, ["x9.huge"])]) == []
