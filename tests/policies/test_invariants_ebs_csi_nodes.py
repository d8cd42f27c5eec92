"""Where the stack's EBS CSI driver runs its node plugin (fresh review of the families, findings 3 and 6): its
`node.nodeSelector` is matched against every label a node carries (instance type and arch included), and an
Immediate class without allowedTopologies makes its volume only in a zone of a pool the driver runs on. Each case
failed before the fix (reviewer's probes)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .helpers import R, messages
from .test_invariants_volume_zone import SUBNETS, VZ, app, claim, group, storage_class

FITS = "mlops-inv-pod-fits-node"
EKS = R("aws:eks/cluster:Cluster", "eks", {"name": "c"})


def driver(node: dict[str, Any] | None) -> R:
    cfg = {"configurationValues": json.dumps({"node": node})} if node is not None else {}
    return R("aws:eks/addon:Addon", "ebs-csi", {"addonName": "aws-ebs-csi-driver", **cfg})


def karpenter_pool(requirements: list[dict[str, Any]]) -> R:
    return R("kubernetes:karpenter.sh/v1:NodePool", "burst", {"metadata": {"name": "burst"}, "spec": {"template": {
        "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                 "requirements": requirements}}}})


@pytest.mark.parametrize("selector", [
    {"kubernetes.io/arch": "amd64"},
    {"node.kubernetes.io/instance-type": "m5.xlarge"},
    {"beta.kubernetes.io/instance-type": "m5.xlarge"},
    {"topology.kubernetes.io/zone": "us-east-1a"},  # set by the cloud provider: not modelled, taken to match
], ids=["arch", "instance-type", "beta-instance-type", "zone"])
def test_the_drivers_selector_sees_the_instance_labels(selector: dict[str, str]) -> None:
    pod = app({"topology.ebs.csi.aws.com/zone": "us-east-1a"})
    base = [EKS, *SUBNETS, group("general", "abc"), pod]
    assert messages(FITS, [*base, driver({"nodeSelector": selector})]) == []


def test_a_selector_the_instance_does_not_meet_leaves_the_pool_without_the_label() -> None:
    pod = app({"topology.ebs.csi.aws.com/zone": "us-east-1a"})
    base = [EKS, *SUBNETS, group("general", "abc"), pod]
    for selector in ({"kubernetes.io/arch": "arm64"}, {"node.kubernetes.io/instance-type": "m5.large"}):
        found = messages(FITS, [*base, driver({"nodeSelector": selector})])
        assert len(found) == 1 and "lacks label topology.ebs.csi.aws.com/zone" in found[0], found


def test_a_karpenter_pool_may_carry_any_value_its_requirements_allow() -> None:
    pod = app({"topology.ebs.csi.aws.com/zone": "us-east-1a"})
    pool = karpenter_pool([{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]}])
    base = [EKS, pool, pod]
    assert messages(FITS, [*base, driver({"nodeSelector": {"karpenter.sh/capacity-type": "spot"}})]) == []
    assert messages(FITS, [*base, driver({"nodeSelector": {"kubernetes.io/arch": "arm64"}})]) == []  # left open
    found = messages(FITS, [*base, driver({"nodeSelector": {"karpenter.sh/capacity-type": "reserved"}})])
    assert len(found) == 1 and "topology.ebs.csi.aws.com/zone" in found[0], found


def tainted_pool_in_c() -> R:
    return R("aws:eks/nodeGroup:NodeGroup", "gpu", {
        "nodeGroupName": "gpu", "instanceTypes": ["m5.xlarge"], "labels": {"pool": "gpu"}, "subnetIds": ["net-c"],
        "taints": [{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 1}}, deps={"subnetIds": ["net-c"]})


def test_an_immediate_volume_is_made_only_where_the_driver_runs() -> None:
    """general runs in a and b; gpu, tainted, in c. A driver that does not tolerate the taint registers on no node
    in c, so an Immediate volume is made in a or b, where the pod (on general) runs."""
    base = [EKS, *SUBNETS, group("general", "ab"), tainted_pool_in_c(), storage_class(mode="Immediate"),
            claim(storageClassName="ebs"), app()]
    assert messages(VZ, [*base, driver({"tolerateAllTaints": False})]) == []
    found = messages(VZ, [*base, driver(None)])  # chart default: tolerates every taint, runs in c too
    assert len(found) == 1 and "binds Immediate" in found[0] and "made in us-east-1c never attaches" in found[0], found
    found = messages(VZ, base)  # no driver in the stack: every pool's zone
    assert len(found) == 1 and "us-east-1c never attaches" in found[0], found
