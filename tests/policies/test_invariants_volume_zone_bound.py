"""Family `volume-zone`, second review of #30: bound PersistentVolumes (zone labels, affinity wider than the volume,
StatefulSet pre-binding, Auto Mode), Immediate classes among a pod's claims, node groups in fewer subnets than their
dependencies. Each case failed before the fix (reviewer's probes)."""

from __future__ import annotations

import json
from typing import Any

from .helpers import R, messages
from .test_invariants_volume_zone import BASE, ON_GPU, SUBNETS, VZ, app, claim, group, storage_class


def ebs_volume(name: str, zone: str) -> R:
    return R("aws:ebs/volume:Volume", name, {"availabilityZone": zone, "size": 100, "type": "gp3"})


def static_pv(name: str, volume: str, zones: list[str] | None = None, labels: dict[str, str] | None = None,
              **spec: Any) -> R:
    inputs: dict[str, Any] = {"metadata": {"name": name, **({"labels": labels} if labels else {})}, "spec": {
        "capacity": {"storage": "100Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
        "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": f"{volume}-id", "fsType": "ext4"}, **spec}}
    if zones:
        inputs["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": zones}]}]}}
    return R("kubernetes:core/v1:PersistentVolume", f"pv-{name}", inputs, deps={"spec": [volume]})


def test_a_zone_label_constrains_the_scheduler_like_node_affinity() -> None:
    # the VolumeZone filter enforces topology.kubernetes.io/zone (and the beta key) on a bound PV's node
    for key in ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"):
        labelled = static_pv("datasets", "vol", labels={key: "us-east-1b"})
        assert messages(VZ, [*BASE, ebs_volume("vol", "us-east-1b"), labelled,
                             claim(storageClassName="", volumeName="datasets"), app()]) == [], key
    unlabelled = static_pv("datasets", "vol")
    assert messages(VZ, [*BASE, ebs_volume("vol", "us-east-1b"), unlabelled,
                         claim(storageClassName="", volumeName="datasets"), app()]) != []
    wrong = static_pv("datasets", "vol", labels={"topology.kubernetes.io/zone": "us-east-1c"})
    found = messages(VZ, [*BASE, ebs_volume("vol", "us-east-1b"), wrong,
                          claim(storageClassName="", volumeName="datasets"), app()])
    assert len(found) == 1 and "pins zone label to us-east-1c" in found[0] and "ZoneMismatch" in found[0], found


def test_node_affinity_wider_than_the_volume() -> None:
    wide = static_pv("d3", "v3", ["us-east-1a", "us-east-1b"])
    found = messages(VZ, [*BASE, ebs_volume("v3", "us-east-1a"), wide, claim(storageClassName="", volumeName="d3"),
                          app()])
    assert len(found) == 1 and "allows us-east-1a, us-east-1b" in found[0], found
    assert "may place the pod in us-east-1b" in found[0]
    exact = static_pv("d3", "v3", ["us-east-1a"])
    assert messages(VZ, [*BASE, ebs_volume("v3", "us-east-1a"), exact, claim(storageClassName="", volumeName="d3"),
                         app()]) == []


def test_a_mismatched_volume_is_judged_on_auto_mode() -> None:
    auto = R("aws:eks/cluster:Cluster", "eks", {"name": "c", "computeConfig": {"enabled": True}})
    rest = [ebs_volume("v4", "us-east-1a"), claim(storageClassName="", volumeName="d4"), app()]
    found = messages(VZ, [auto, *SUBNETS, group("general", "abc"), static_pv("d4", "v4", ["us-east-1b"]), *rest])
    assert len(found) == 1 and "pins node affinity to us-east-1b" in found[0] and "v4 is in us-east-1a" in found[0]
    assert messages(VZ, [auto, *SUBNETS, group("general", "abc"), static_pv("d4", "v4", ["us-east-1a"]), *rest]) == []


def test_a_statefulset_claim_pre_bound_by_claim_ref() -> None:
    sts = R("kubernetes:apps/v1:StatefulSet", "db", {"metadata": {"name": "db", "namespace": "app"}, "spec": {
        "replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}},
                     "spec": {"nodeSelector": ON_GPU, "containers": [{"name": "c", "image": "i"}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "", "resources": {"requests": {"storage": "1Gi"}}}}]}})

    def pv(ref: str, zone: str) -> R:
        return static_pv("d5", "v5", [zone], claimRef={"name": ref, "namespace": "app"})

    found = messages(VZ, [*BASE, ebs_volume("v5", "us-east-1b"), pv("data-db-0", "us-east-1b"), sts])
    assert len(found) == 1 and "bound to PersistentVolume d5 in us-east-1b" in found[0], found
    assert messages(VZ, [*BASE, ebs_volume("v5", "us-east-1a"), pv("data-db-0", "us-east-1a"), sts]) == []
    assert messages(VZ, [*BASE, ebs_volume("v5", "us-east-1b"), pv("data-web-0", "us-east-1b"), sts]) == []


def test_an_immediate_class_with_allowed_topologies_pins_its_claim() -> None:
    two = app()
    two.inputs["spec"]["template"]["spec"]["volumes"] = [
        {"name": "a", "persistentVolumeClaim": {"claimName": "ca"}},
        {"name": "b", "persistentVolumeClaim": {"claimName": "cb"}}]
    pinned_a = [*BASE, ebs_volume("va", "us-east-1a"), static_pv("pa", "va", ["us-east-1a"]),
                claim("ca", storageClassName="", volumeName="pa"), claim("cb", storageClassName="ebs"), two]
    found = messages(VZ, [*pinned_a, storage_class(mode="Immediate", zones=["us-east-1b"])])
    assert len(found) == 1 and "claim ca in us-east-1a; claim cb in us-east-1b" in found[0], found
    assert messages(VZ, [*pinned_a, storage_class(mode="Immediate", zones=["us-east-1a"])]) == []


def test_a_node_group_runs_in_the_subnets_its_ids_name() -> None:
    # subnetIds = Output.all(a, b, c).apply(lambda ids: ids[:1]): three dependencies, one subnet (prod's p5 pool)
    nets = [s.name for s in SUBNETS]
    p5 = R("aws:eks/nodeGroup:NodeGroup", "p5", {
        "nodeGroupName": "p5", "instanceTypes": ["m5.xlarge"], "labels": {"pool": "p5"}, "subnetIds": ["net-a-id"],
        "scalingConfig": {"minSize": 0, "maxSize": 3, "desiredSize": 0}}, deps={"subnetIds": nets})
    rest = [R("aws:eks/cluster:Cluster", "eks", {"name": "c"}), *SUBNETS, p5,
            claim(storageClassName="", volumeName="d"), app({"pool": "p5"})]
    found = messages(VZ, [*rest, ebs_volume("v", "us-east-1b"), static_pv("d", "v", ["us-east-1b"])])
    assert len(found) == 1 and "(node group p5) run only in us-east-1a" in found[0], found
    assert messages(VZ, [*rest, ebs_volume("v", "us-east-1a"), static_pv("d", "v", ["us-east-1a"])]) == []


def test_the_ebs_csi_zone_label_only_where_the_drivers_settings_let_it_run() -> None:
    # review 2 finding 11: the node plugin runs where node.nodeSelector matches and the pool's taints are tolerated
    tainted = R("aws:eks/nodeGroup:NodeGroup", "gpu", {
        "nodeGroupName": "gpu", "instanceTypes": ["m5.xlarge"], "labels": {"pool": "gpu"}, "subnetIds": ["net-a"],
        "taints": [{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 1}}, deps={"subnetIds": ["net-a"]})
    pod = app({"topology.ebs.csi.aws.com/zone": "us-east-1a", "pool": "gpu"})
    pod.inputs["spec"]["template"]["spec"]["tolerations"] = [{"key": "gpu", "operator": "Exists"}]
    base = [R("aws:eks/cluster:Cluster", "eks", {"name": "c"}), *SUBNETS, group("general", "abc"), tainted, pod]

    def driver(node: dict[str, Any] | None) -> R:
        cfg = {"configurationValues": json.dumps({"node": node})} if node is not None else {}
        return R("aws:eks/addon:Addon", "ebs-csi", {"addonName": "aws-ebs-csi-driver", **cfg})

    fits = "mlops-inv-pod-fits-node"
    assert messages(fits, [*base, driver(None)]) == []  # chart default: tolerateAllTaints
    assert messages(fits, [*base, driver({"tolerateAllTaints": True})]) == []
    found = messages(fits, [*base, driver({"tolerateAllTaints": False})])
    assert len(found) == 1 and "topology.ebs.csi.aws.com/zone" in found[0], found
    tolerant = {"tolerateAllTaints": False, "tolerations": [{"key": "gpu", "operator": "Exists"}]}
    assert messages(fits, [*base, driver(tolerant)]) == []
    assert messages(fits, [*base, driver({"nodeSelector": {"pool": "general"}})]) != []
    assert messages(fits, [*base, driver({"nodeSelector": {"pool": "gpu"}})]) == []
