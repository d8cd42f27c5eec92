"""Family `volume-zone`, fresh review of the families (findings 4, 5): a StatefulSet's ordinals are judged one by
one, each with its own claims `<template>-<set>-<ordinal>`, a claim the stack pre-creates under that name included.
Each case failed before the fix (reviewer's probes)."""

from __future__ import annotations

from .helpers import R, messages
from .test_invariants_volume_zone import BASE, ON_GPU, VZ
from .test_invariants_volume_zone_bound import ebs_volume, static_pv


def statefulset(templates: tuple[str, ...] = ("data",), replicas: int | None = 3,
                selector: dict[str, str] | None = None) -> R:
    spec = {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}},
                         "spec": {"nodeSelector": selector or {}, "containers": [{"name": "c", "image": "i"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": t}, "spec": {
                "accessModes": ["ReadWriteOnce"], "storageClassName": "", "resources": {"requests": {"storage": "1Gi"}}}}
                for t in templates]}
    if replicas is not None:
        spec["replicas"] = replicas
    return R("kubernetes:apps/v1:StatefulSet", "db", {"metadata": {"name": "db", "namespace": "app"}, "spec": spec})


def prebound(pv: str, volume: str, zone: str, claim: str) -> list[R]:
    """An EBS volume in `zone` and a PersistentVolume on it whose claimRef names `claim` in namespace app."""
    return [ebs_volume(volume, zone), static_pv(pv, volume, [zone], claimRef={"name": claim, "namespace": "app"})]


def test_each_ordinal_is_judged_with_its_own_volume() -> None:
    """db-0 and db-1 have volumes in us-east-1a, where the pod's only pool runs; db-2's is in us-east-1c."""
    volumes = [*prebound("d0", "v0", "us-east-1a", "data-db-0"), *prebound("d1", "v1", "us-east-1a", "data-db-1"),
               *prebound("d2", "v2", "us-east-1c", "data-db-2")]
    found = messages(VZ, [*BASE, *volumes, statefulset(selector=ON_GPU)])
    assert len(found) == 1, found
    assert "mounts claim data-db-2, bound to PersistentVolume d2 in us-east-1c" in found[0], found
    # two replicas: db-2 is never made, its volume is not the set's
    assert messages(VZ, [*BASE, *volumes, statefulset(replicas=2, selector=ON_GPU)]) == []


def test_the_claims_of_one_ordinal_are_paired() -> None:
    """Templates data and logs, each ordinal's two volumes in one zone (0 in a, 1 in b), the PersistentVolumes
    registered in another order: every pod has its volumes together."""
    volumes = [*prebound("d0", "v0", "us-east-1a", "data-db-0"), *prebound("d1", "v1", "us-east-1b", "data-db-1"),
               *prebound("l1", "w1", "us-east-1b", "logs-db-1"), *prebound("l0", "w0", "us-east-1a", "logs-db-0")]
    assert messages(VZ, [*BASE, *volumes, statefulset(("data", "logs"), replicas=2)]) == []
    apart = [*prebound("d0", "v0", "us-east-1a", "data-db-0"), *prebound("l0", "w0", "us-east-1b", "logs-db-0")]
    found = messages(VZ, [*BASE, *apart, statefulset(("data", "logs"), replicas=1)])
    assert len(found) == 1 and "share no zone" in found[0], found
    assert "claim data-db-0 in us-east-1a; claim logs-db-0 in us-east-1b" in found[0], found


def test_a_claim_the_stack_pre_creates_is_the_ordinals() -> None:
    """The controller uses an existing claim data-db-0: its volumeName binds the volume in us-east-1c."""
    pvc = R("kubernetes:core/v1:PersistentVolumeClaim", "pvc-data-db-0", {
        "metadata": {"name": "data-db-0", "namespace": "app"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": "d0",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    volume = [ebs_volume("v0", "us-east-1c"), static_pv("d0", "v0", ["us-east-1c"])]
    found = messages(VZ, [*BASE, *volume, pvc, statefulset(replicas=1, selector=ON_GPU)])
    assert len(found) == 1 and "claim data-db-0, bound to PersistentVolume d0 in us-east-1c" in found[0], found
    assert messages(VZ, [*BASE, *volume, pvc, statefulset(replicas=1)]) == []  # the general pool runs in c
    other = R(pvc.type, pvc.name, {**pvc.inputs, "metadata": {"name": "data-db-0", "namespace": "elsewhere"}})
    assert messages(VZ, [*BASE, *volume, other, statefulset(replicas=1, selector=ON_GPU)]) == []


def test_replicas_unset_is_one_and_unknown_counts_the_pre_bound_ordinals() -> None:
    volumes = [*prebound("d0", "v0", "us-east-1a", "data-db-0"), *prebound("d1", "v1", "us-east-1c", "data-db-1")]
    assert messages(VZ, [*BASE, *volumes, statefulset(replicas=None, selector=ON_GPU)]) == []
    unknown = statefulset(selector=ON_GPU)
    unknown.inputs["spec"]["replicas"] = "[unknown]"
    found = messages(VZ, [*BASE, *volumes, unknown])
    assert len(found) == 1 and "claim data-db-1" in found[0], found


def test_ordinals_start_at_spec_ordinals_start() -> None:
    """Second review, finding 2: with `spec.ordinals.start: 5` and one replica the only pod is db-5. Its volume in
    us-east-1c (the pod's pool runs only in us-east-1a) is judged; a volume pre-bound to data-db-0, a claim that is
    never made, is not the pod's."""
    at_five = statefulset(replicas=1, selector=ON_GPU)
    at_five.inputs["spec"]["ordinals"] = {"start": 5}
    found = messages(VZ, [*BASE, *prebound("d5", "v5", "us-east-1c", "data-db-5"), at_five])
    assert len(found) == 1 and "mounts claim data-db-5, bound to PersistentVolume d5 in us-east-1c" in found[0], found
    assert messages(VZ, [*BASE, *prebound("d0", "v0", "us-east-1c", "data-db-0"), at_five]) == []
    two = statefulset(replicas=2, selector=ON_GPU)  # db-5 and db-6: db-7's volume is no pod's
    two.inputs["spec"]["ordinals"] = {"start": 5}
    found = messages(VZ, [*BASE, *prebound("d6", "v6", "us-east-1c", "data-db-6"),
                          *prebound("d7", "v7", "us-east-1c", "data-db-7"), two])
    assert len(found) == 1 and "claim data-db-6" in found[0], found
