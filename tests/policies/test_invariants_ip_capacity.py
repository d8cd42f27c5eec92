"""Family `ip-capacity`: managed node groups at their maximum, with full nodes, fit their subnets' addresses."""

from __future__ import annotations

import json
from typing import Any

from mlops_policies.core import Resource
from mlops_policies.invariants_ip_capacity import usable

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
    # m5.large: 29 max pods -> a full node takes 28 addresses; 8 x 28 = 224 <= 251, 9 x 28 = 252 > 251
    assert messages(IP, [A, group("workers", ["a"], 8, ["m5.large"])]) == []
    found = messages(IP, [A, group("workers", ["a"], 9, ["m5.large"])])
    assert len(found) == 1, found
    assert found[0].startswith("workers: ") and "at least 252 VPC addresses" in found[0]
    assert "9 x m5.large (29 max pods)" in found[0] and "a (10.0.0.0/24) hold 251" in found[0]
    assert messages(IP, [A, B, group("workers", ["a", "b"], 17, ["m5.large"])]) == []  # 476 <= 502


def test_groups_sharing_subnets_are_summed() -> None:
    one, two = group("cpu", ["a", "b"], 9, ["m5.large"]), group("gpu", ["b"], 9, ["m5.large"])
    found = messages(IP, [A, B, one, two])  # each fits alone (252 <= 502, 252 > 251!) -> gpu alone is over
    assert len(found) == 1 and found[0].startswith("gpu: ")
    one, two = group("cpu", ["a", "b"], 10, ["m5.large"]), group("gpu", ["a", "b"], 8, ["m5.large"])
    found = messages(IP, [A, B, one, two])  # 280 + 224 = 504 > 502
    assert len(found) == 1 and "node groups cpu, gpu share subnets" in found[0] and "at least 504" in found[0]
    apart = [A, B, group("cpu", ["a"], 8, ["m5.large"]), group("gpu", ["b"], 8, ["m5.large"])]
    assert messages(IP, apart) == []


def test_the_smallest_type_and_the_launch_template_type_count() -> None:
    mixed = group("mixed", ["a"], 8, ["m5.large", "m5.4xlarge"])  # may launch only m5.large: 8 x 28
    assert messages(IP, [A, mixed]) == []
    lt = R("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "c6i.4xlarge"})
    found = messages(IP, [A, lt, group("batch", ["a"], 2, launchTemplate={"id": "lt-1", "version": "1"})])
    assert len(found) == 1 and "2 x c6i.4xlarge (234 max pods) = 466" in found[0]
    with_user_data = R("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "c6i.4xlarge",
                                                                       "userData": "bWF4UG9kczogMTA="})
    assert messages(IP, [A, with_user_data, group("batch", ["a"], 2, launchTemplate={"id": "lt-1"})]) == []
    assert messages(IP, [A, group("default", ["a"], 15)]) == []  # t3.medium: 15 x 16 = 240
    assert messages(IP, [A, group("default", ["a"], 16)]) != []  # 256


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
