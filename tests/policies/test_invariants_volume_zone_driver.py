"""Family `volume-zone`, second review of the families (finding 4): a pod mounting an EBS volume the stack's EBS CSI
driver serves, when the driver's node plugin runs on none of the node pools that admit the pod, stays Pending (no
CSINode there names the driver: the volume is never made nor attached). The reviewer's probe: the driver selects
`kubernetes.io/arch: arm64`, every group is amd64."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .helpers import R, messages
from .test_invariants_volume_zone import BASE, VZ, app, claim, storage_class
from .test_invariants_volume_zone_bound import ebs_volume, static_pv

ARM = {"nodeSelector": {"kubernetes.io/arch": "arm64"}}


def driver(node: dict[str, Any] | None) -> R:
    cfg = {"configurationValues": json.dumps({"node": node})} if node is not None else {}
    return R("aws:eks/addon:Addon", "ebs-csi", {"addonName": "aws-ebs-csi-driver", **cfg})


@pytest.mark.parametrize("mode", ["Immediate", "WaitForFirstConsumer"])
def test_a_dynamic_ebs_claim_where_the_driver_runs_on_no_admitted_pool(mode: str) -> None:
    volume = [storage_class(mode=mode), claim(storageClassName="ebs")]
    found = messages(VZ, [*BASE, *volume, driver(ARM), app()])
    assert len(found) == 1, found
    assert "mounts claim data of StorageClass ebs" in found[0], found
    assert "runs its node plugin on none of the node pools" in found[0], found
    assert "node.nodeSelector {kubernetes.io/arch: arm64}" in found[0], found
    assert messages(VZ, [*BASE, *volume, driver(None), app()]) == []  # the driver runs on every pool
    assert messages(VZ, [*BASE, *volume, driver({"nodeSelector": {"kubernetes.io/arch": "amd64"}}), app()]) == []


def test_the_driver_on_some_pools_only_reports_the_pods_it_does_not_reach() -> None:
    volume = [storage_class(), claim(storageClassName="ebs")]
    on_general = driver({"nodeSelector": {"pool": "general"}})  # the `general` group carries no `pool` label
    gpu_only = driver({"nodeSelector": {"pool": "gpu"}})
    assert len(messages(VZ, [*BASE, *volume, on_general, app()])) == 1
    assert messages(VZ, [*BASE, *volume, gpu_only, app()]) == []  # the pod admits gpu, where the driver runs
    found = messages(VZ, [*BASE, *volume, on_general, app({"pool": "gpu"})])
    assert len(found) == 1 and "(node group gpu)" in found[0], found


def test_a_static_ebs_volume_needs_the_driver_too() -> None:
    pv = [ebs_volume("v", "us-east-1a"), static_pv("d", "v", ["us-east-1a"]),
          claim(storageClassName="", volumeName="d")]
    found = messages(VZ, [*BASE, *pv, driver(ARM), app({"pool": "gpu"})])
    assert len(found) == 1 and "bound to PersistentVolume d of ebs.csi.aws.com" in found[0], found
    assert messages(VZ, [*BASE, *pv, driver(None), app({"pool": "gpu"})]) == []


def test_other_provisioners_and_stacks_without_the_driver_are_not_judged() -> None:
    auto = [storage_class(provisioner="ebs.csi.eks.amazonaws.com"), claim(storageClassName="ebs")]
    assert messages(VZ, [*BASE, *auto, driver(ARM), app()]) == []  # EKS Auto Mode's own plugin
    assert messages(VZ, [*BASE, storage_class(), claim(storageClassName="ebs"), app()]) == []  # no driver installed
