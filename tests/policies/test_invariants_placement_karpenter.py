"""Family `placement`: Karpenter NodePools (well-known labels a pool leaves open, families outside the catalogue),
image pull secrets."""

from __future__ import annotations

from typing import Any

from mlops_policies.node_model import catalogue

from .helpers import R, messages
from .test_invariants_placement import EKS, FIT, REF, pod, requests


def nodepool(requirements: list[dict[str, Any]], name: str = "general") -> R:
    return R("kubernetes:karpenter.sh/v1:NodePool", name, {"metadata": {"name": name}, "spec": {"template": {
        "spec": {"requirements": requirements}}}})


CATEGORY = {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m", "r"]}


def test_pool_admits_well_known_labels_it_leaves_open() -> None:
    pool = nodepool([CATEGORY])
    for selector in ({"kubernetes.io/arch": "arm64"}, {"karpenter.sh/capacity-type": "on-demand"},
                     {"topology.kubernetes.io/zone": "eu-west-1a"}, {"node.kubernetes.io/instance-type": "m7g.large"}):
        assert messages(FIT, [EKS, pool, pod({"nodeSelector": selector})]) == [], selector
    assert messages(FIT, [EKS, pool, pod({"nodeSelector": {"role": "batch"}})]) != []  # a label no node carries
    amd = nodepool([CATEGORY, {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}])
    assert messages(FIT, [EKS, amd, pod({"nodeSelector": {"kubernetes.io/arch": "arm64"}})]) != []


def test_families_outside_the_catalogue_are_not_judged() -> None:
    families = {t.name.split(".")[0] for t in catalogue().values()}
    assert "m5" in families and "zz9" not in families
    family = "karpenter.k8s.aws/instance-family"
    known = nodepool([{"key": family, "operator": "In", "values": ["m5"]}])
    assert messages(FIT, [EKS, known, pod(requests(cpu="500"))]) != []
    mixed = nodepool([{"key": family, "operator": "In", "values": ["m5", "zz9"]}])
    assert messages(FIT, [EKS, mixed, pod(requests(cpu="500"))]) == []  # zz9's sizes are unknown


def test_a_missing_image_pull_secret_is_not_a_pod_that_never_starts() -> None:
    """The kubelet logs a pull secret it cannot read and pulls without it; a missing envFrom Secret still counts."""
    pulls = pod({"imagePullSecrets": [{"name": "regcred"}]})
    assert messages(REF, [pulls]) == []
    env = pod({"imagePullSecrets": [{"name": "regcred"}], "container": {"envFrom": [{"secretRef": {"name": "creds"}}]}})
    assert len(messages(REF, [env])) == 1


def test_karpenter_counts_vm_memory_overhead() -> None:
    """m5.xlarge: 16384 MiB; the EKS reservation leaves 15391 MiB, Karpenter first takes 7.5% (1229 MiB)."""
    m5 = catalogue()["m5.xlarge"]
    assert (m5.memory_mib, m5.max_pods) == (16384, 58)
    fits_a_group = pod(requests(memory="15000Mi"))
    group = R("aws:eks/nodeGroup:NodeGroup", "g", {"nodeGroupName": "g", "instanceTypes": ["m5.xlarge"],
                                                   "scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1}})
    assert messages(FIT, [EKS, group, fits_a_group]) == []
    pool = nodepool([{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.xlarge"]}])
    found = messages(FIT, [EKS, pool, fits_a_group])
    assert len(found) == 1 and "allocatable memory is 14162Mi" in found[0]
    assert messages(FIT, [EKS, pool, pod(requests(memory="14000Mi"))]) == []
