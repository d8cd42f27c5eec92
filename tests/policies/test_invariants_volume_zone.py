"""Family `volume-zone`: a pod's EBS volume can be in a zone where a node pool that admits the pod runs."""

from __future__ import annotations

from typing import Any

from mlops_policies.invariants_volume_zone import pod_zone_filter, term_zones

from .helpers import R, messages

VZ = "mlops-inv-volume-zone"
EKS = R("aws:eks/cluster:Cluster", "eks", {"name": "c"})
SUBNETS = [R("aws:ec2/subnet:Subnet", f"net-{z}", {"availabilityZone": f"us-east-1{z}", "cidrBlock": f"10.0.{i}.0/24"})
           for i, z in enumerate("abc")]


def group(name: str, zones: str, labels: dict[str, str] | None = None) -> R:
    nets = [f"net-{z}" for z in zones]
    return R("aws:eks/nodeGroup:NodeGroup", name, {
        "nodeGroupName": name, "instanceTypes": ["m5.xlarge"], "labels": labels or {}, "subnetIds": nets,
        "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 1}}, deps={"subnetIds": nets})


def storage_class(name: str = "ebs", mode: str | None = "WaitForFirstConsumer", zones: list[str] | None = None,
                  provisioner: str = "ebs.csi.aws.com", default: bool = False) -> R:
    inputs: dict[str, Any] = {"metadata": {"name": name}, "provisioner": provisioner}
    if default:
        inputs["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    if mode:
        inputs["volumeBindingMode"] = mode
    if zones is not None:
        inputs["allowedTopologies"] = [{"matchLabelExpressions": [
            {"key": "topology.ebs.csi.aws.com/zone", "values": zones}]}]
    return R("kubernetes:storage.k8s.io/v1:StorageClass", f"sc-{name}", inputs)


def claim(name: str = "data", **spec: Any) -> R:
    return R("kubernetes:core/v1:PersistentVolumeClaim", f"pvc-{name}", {
        "metadata": {"name": name, "namespace": "app"}, "spec": {"accessModes": ["ReadWriteOnce"], **spec}})


def app(node_selector: dict[str, str] | None = None, claim_name: str = "data") -> R:
    spec = {"nodeSelector": node_selector or {}, "containers": [{"name": "c", "image": "i"}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim_name}}]}
    return R("kubernetes:apps/v1:Deployment", "api", {"metadata": {"name": "api", "namespace": "app"},
                                                      "spec": {"template": {"metadata": {"labels": {"app": "api"}},
                                                                            "spec": spec}}})


BASE = [EKS, *SUBNETS, group("general", "abc"), group("gpu", "a", {"pool": "gpu"})]
ON_GPU = {"pool": "gpu"}


def test_zone_terms_and_the_pods_own_zone() -> None:
    terms = [{"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z1"]}]},
             {"matchExpressions": [{"key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": ["z2"]}]}]
    assert term_zones(terms) == {"z1", "z2"}
    assert term_zones([*terms, {"matchExpressions": [{"key": "role", "operator": "In", "values": ["x"]}]}]) is None
    assert pod_zone_filter({"nodeSelector": {"topology.kubernetes.io/zone": "z1"}}) == {"z1"}
    assert pod_zone_filter({"nodeSelector": {"role": "x"}}) is None


def test_allowed_topologies_must_meet_the_zones_of_the_pods_pools() -> None:
    ok = [*BASE, storage_class(zones=["us-east-1a"]), claim(storageClassName="ebs"), app(ON_GPU)]
    assert messages(VZ, ok) == []
    bad = [*BASE, storage_class(zones=["us-east-1b", "us-east-1c"]), claim(storageClassName="ebs"), app(ON_GPU)]
    found = messages(VZ, bad)
    assert len(found) == 1, found
    assert "Deployment app/api mounts claim data of StorageClass ebs" in found[0]
    assert "admit only us-east-1b, us-east-1c" in found[0] and "(node group gpu) run only in us-east-1a" in found[0]
    # the same class is fine for a pod that any pool may take
    assert messages(VZ, [*BASE, storage_class(zones=["us-east-1b"]), claim(storageClassName="ebs"), app()]) == []


def test_immediate_binding_may_make_the_volume_where_the_pod_cannot_go() -> None:
    for mode in ("Immediate", None):  # unset: the API default is Immediate
        found = messages(VZ, [*BASE, storage_class(mode=mode), claim(storageClassName="ebs"), app(ON_GPU)])
        assert len(found) == 1 and "binds Immediate" in found[0] and "us-east-1b, us-east-1c never attaches" in found[0]
    assert messages(VZ, [*BASE, storage_class(), claim(storageClassName="ebs"), app(ON_GPU)]) == []
    assert messages(VZ, [*BASE, storage_class(mode="Immediate"), claim(storageClassName="ebs"), app()]) == []
    # allowedTopologies limited to the pod's zone: Immediate cannot pick another
    assert messages(VZ, [*BASE, storage_class(mode="Immediate", zones=["us-east-1a"]), claim(storageClassName="ebs"),
                         app(ON_GPU)]) == []


def test_the_default_class_serves_a_claim_without_a_class() -> None:
    found = messages(VZ, [*BASE, storage_class(mode="Immediate", default=True), claim(), app(ON_GPU)])
    assert len(found) == 1 and "StorageClass ebs" in found[0]
    assert messages(VZ, [*BASE, storage_class(mode="Immediate"), claim(), app(ON_GPU)]) == []  # no default: unknown


def test_the_pods_zone_selector_narrows_its_pools() -> None:
    pinned = app({"topology.kubernetes.io/zone": "us-east-1c"})
    found = messages(VZ, [*BASE, storage_class(zones=["us-east-1a"]), claim(storageClassName="ebs"), pinned])
    assert len(found) == 1 and "run only in us-east-1c" in found[0]


def test_static_volume_zone_from_node_affinity_or_the_ebs_volume() -> None:
    vol = R("aws:ebs/volume:Volume", "snap", {"availabilityZone": "us-east-1b", "size": 10})

    def pv(zone: str | None, from_volume: bool) -> R:
        spec: dict[str, Any] = {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}
        if zone:
            spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": [zone]}]}]}}
        return R("kubernetes:core/v1:PersistentVolume", "pv", {"metadata": {"name": "snap"}, "spec": spec},
                 deps={"spec": ["snap"]} if from_volume else {})

    bound = claim(storageClassName="", volumeName="snap")
    found = messages(VZ, [*BASE, pv("us-east-1b", False), bound, app(ON_GPU)])
    assert len(found) == 1 and "bound to PersistentVolume snap in us-east-1b" in found[0]
    assert messages(VZ, [*BASE, pv("us-east-1a", False), bound, app(ON_GPU)]) == []
    found = messages(VZ, [*BASE, vol, pv(None, True), bound, app(ON_GPU)])
    assert len(found) == 1 and "in us-east-1b" in found[0]
    assert messages(VZ, [*BASE, vol, pv("us-east-1b", True), bound, app()]) == []
    mismatch = messages(VZ, [*BASE, vol, pv("us-east-1a", True), bound, app()])
    assert len(mismatch) == 1 and "InvalidVolume.ZoneMismatch" in mismatch[0] and "EBS volume snap" in mismatch[0]


def test_karpenter_pool_zones_come_from_its_zone_requirement() -> None:
    pool = R("kubernetes:karpenter.sh/v1:NodePool", "np", {"metadata": {"name": "gpu"}, "spec": {"template": {
        "metadata": {"labels": {"pool": "gpu"}}, "spec": {"requirements": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1a"]}]}}}})
    found = messages(VZ, [EKS, pool, storage_class(zones=["us-east-1c"]), claim(storageClassName="ebs"), app(ON_GPU)])
    assert len(found) == 1 and "NodePool gpu" in found[0]


def test_what_is_not_known_is_not_judged() -> None:
    bad_sc = storage_class(zones=["us-east-1c"])
    unknown_subnets = R("aws:eks/nodeGroup:NodeGroup", "gpu", {
        "nodeGroupName": "gpu", "instanceTypes": ["m5.xlarge"], "labels": ON_GPU, "subnetIds": ["subnet-123"]})
    assert messages(VZ, [EKS, unknown_subnets, bad_sc, claim(storageClassName="ebs"), app(ON_GPU)]) == []
    efs = storage_class(provisioner="efs.csi.aws.com", zones=["us-east-1c"])
    assert messages(VZ, [*BASE, efs, claim(storageClassName="ebs"), app(ON_GPU)]) == []
    assert messages(VZ, [*BASE, bad_sc, claim(storageClassName="other"), app(ON_GPU)]) == []  # class made elsewhere
    assert messages(VZ, [*BASE, bad_sc, claim(storageClassName="ebs"), app({"pool": "none"})]) == []  # no pool
    nowhere = app({**ON_GPU, "topology.kubernetes.io/zone": "us-east-1c"})  # its zone excludes its pool's zones
    assert messages(VZ, [*BASE, bad_sc, claim(storageClassName="ebs"), nowhere]) == []
    assert messages(VZ, [*SUBNETS, group("gpu", "a", ON_GPU), bad_sc, claim(storageClassName="ebs"),
                         app(ON_GPU)]) != []  # the node group alone makes node facts known


def test_a_generic_ephemeral_volume_is_followed() -> None:
    # reviewer's eph-immediate: volumes[].ephemeral.volumeClaimTemplate makes the pod's own claim from that spec
    pod = app(ON_GPU)
    pod.inputs["spec"]["template"]["spec"]["volumes"] = [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "ebs"}}}}]
    found = messages(VZ, [*BASE, storage_class(mode="Immediate"), pod])
    assert len(found) == 1 and "<pod>-scratch" in found[0] and "binds Immediate" in found[0], found
    assert messages(VZ, [*BASE, storage_class(), pod]) == []


EBS_CSI = R("aws:eks/addon:Addon", "ebs-csi", {"addonName": "aws-ebs-csi-driver"})


def static_pv(name: str, zone: str | None = None, volume: str | None = None) -> R:
    spec: dict[str, Any] = {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}
    if zone:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": [zone]}]}]}}
    return R("kubernetes:core/v1:PersistentVolume", f"pv-{name}", {"metadata": {"name": name}, "spec": spec},
             deps={"spec": [volume]} if volume else {})


def ebs_volume(name: str, zone: str) -> R:
    return R("aws:ebs/volume:Volume", name, {"availabilityZone": zone, "size": 10})


def test_immediate_allowed_topologies_are_asked_for_without_a_node_check() -> None:
    # review #30 (rfam) finding 3: external-provisioner flattens allowedTopologies as they are (no node check)
    two_zones = [EKS, *SUBNETS, group("general", "ab")]
    found = messages(VZ, [*two_zones, storage_class(mode="Immediate", zones=["us-east-1a", "us-east-1b", "us-east-1c"]),
                          claim(storageClassName="ebs"), app()])
    assert len(found) == 1 and "in its allowedTopologies (us-east-1a, us-east-1b, us-east-1c)" in found[0], found
    assert "a volume made in us-east-1c never attaches" in found[0]
    assert messages(VZ, [*two_zones, storage_class(mode="Immediate", zones=["us-east-1a", "us-east-1b"]),
                         claim(storageClassName="ebs"), app()]) == []
    # a pool whose zones are unknown no longer hides the class's own zones
    elsewhere = R("aws:eks/nodeGroup:NodeGroup", "far", {"nodeGroupName": "far", "instanceTypes": ["m5.xlarge"],
                                                         "labels": {"pool": "far"}, "subnetIds": ["subnet-9"]})
    found = messages(VZ, [*BASE, elsewhere, storage_class(mode="Immediate", zones=["us-east-1b"]),
                          claim(storageClassName="ebs"), app(ON_GPU)])
    assert len(found) == 1 and "admit only us-east-1b" in found[0]


def test_a_static_volume_without_zone_affinity_must_cover_every_zone_of_the_pod() -> None:
    # review #30 (rfam) finding 4: without nodeAffinity the scheduler may pick another zone (aws-ebs-csi-driver#701)
    bound = claim(storageClassName="", volumeName="datasets")
    found = messages(VZ, [*BASE, ebs_volume("datasets", "us-east-1b"), static_pv("datasets", None, "datasets"), bound,
                          app()])
    assert len(found) == 1, found
    assert "has no node affinity on a zone key" in found[0] and "place the pod in us-east-1a, us-east-1c" in found[0]
    assert "topology.ebs.csi.aws.com/zone In [us-east-1b]" in found[0]
    assert messages(VZ, [*BASE, ebs_volume("datasets", "us-east-1b"), static_pv("datasets", "us-east-1b", "datasets"),
                         bound, app()]) == []
    pinned = app({"topology.kubernetes.io/zone": "us-east-1b"})  # the pod itself can run only where the volume is
    assert messages(VZ, [*BASE, ebs_volume("datasets", "us-east-1b"), static_pv("datasets", None, "datasets"), bound,
                         pinned]) == []


def test_all_of_a_pods_volumes_must_share_a_zone() -> None:
    # review #30 (rfam) finding 6: each claim alone fits, together no zone holds both
    two = app()
    two.inputs["spec"]["template"]["spec"]["volumes"] = [
        {"name": "a", "persistentVolumeClaim": {"claimName": "ca"}},
        {"name": "b", "persistentVolumeClaim": {"claimName": "cb"}}]
    claims = [claim("ca", storageClassName="", volumeName="pa"), claim("cb", storageClassName="", volumeName="pb")]
    found = messages(VZ, [*BASE, ebs_volume("va", "us-east-1a"), ebs_volume("vb", "us-east-1b"),
                          static_pv("pa", "us-east-1a", "va"), static_pv("pb", "us-east-1b", "vb"), *claims, two])
    assert len(found) == 1 and "share no zone" in found[0], found
    assert "claim ca in us-east-1a; claim cb in us-east-1b" in found[0]
    assert messages(VZ, [*BASE, ebs_volume("va", "us-east-1a"), ebs_volume("vb", "us-east-1a"),
                         static_pv("pa", "us-east-1a", "va"), static_pv("pb", "us-east-1a", "vb"), *claims, two]) == []


def test_two_zone_keys_in_one_term_or_selector_are_anded() -> None:
    # review #30 (rfam) finding 8: external-provisioner flatten() ANDs the expressions of one term
    term = [{"matchLabelExpressions": [{"key": "topology.ebs.csi.aws.com/zone", "values": ["z1", "z2"]},
                                       {"key": "topology.kubernetes.io/zone", "values": ["z2"]}]}]
    assert term_zones(term, "matchLabelExpressions") == {"z2"}
    assert pod_zone_filter({"nodeSelector": {"topology.kubernetes.io/zone": "z1",
                                             "topology.ebs.csi.aws.com/zone": "z2"}}) == frozenset()
    sc = storage_class(mode="WaitForFirstConsumer")
    sc.inputs["allowedTopologies"] = [{"matchLabelExpressions": [  # 1a or 1b, and 1b: only 1b; the gpu pool is in 1a
        {"key": "topology.ebs.csi.aws.com/zone", "values": ["us-east-1a", "us-east-1b"]},
        {"key": "topology.kubernetes.io/zone", "values": ["us-east-1b"]}]}]
    found = messages(VZ, [*BASE, sc, claim(storageClassName="ebs"), app(ON_GPU)])
    assert len(found) == 1 and "admit only us-east-1b" in found[0], found


def test_auto_mode_provisioner_and_claim_ref_prebinding() -> None:
    # review #30 (rfam) finding 9
    auto = storage_class(zones=["us-east-1b"], provisioner="ebs.csi.eks.amazonaws.com")
    assert messages(VZ, [*BASE, auto, claim(storageClassName="ebs"), app(ON_GPU)]) != []
    prebound = static_pv("pc", "us-east-1b", "vb")
    prebound.inputs["spec"]["claimRef"] = {"name": "data", "namespace": "app"}
    found = messages(VZ, [*BASE, ebs_volume("vb", "us-east-1b"), prebound, claim(storageClassName=""), app(ON_GPU)])
    assert len(found) == 1 and "bound to PersistentVolume pc in us-east-1b" in found[0], found
    prebound.inputs["spec"]["claimRef"] = {"name": "data", "namespace": "other"}
    assert messages(VZ, [*BASE, ebs_volume("vb", "us-east-1b"), prebound, claim(storageClassName=""),
                         app(ON_GPU)]) == []


def test_the_ebs_csi_zone_label_is_the_nodes_zone_where_the_driver_runs() -> None:
    # review #30 (rfam) finding 5: the kubelet sets topology.ebs.csi.aws.com/zone where the driver's node plugin runs
    on_ebs_key = app({"topology.ebs.csi.aws.com/zone": "us-east-1a"})
    immediate = [storage_class(mode="Immediate"), claim(storageClassName="ebs")]
    found = messages(VZ, [*BASE, EBS_CSI, *immediate, on_ebs_key])
    assert len(found) == 1 and "run only in us-east-1a" in found[0], found
    assert messages("mlops-inv-pod-fits-node", [*BASE, EBS_CSI, on_ebs_key]) == []
    without_driver = messages("mlops-inv-pod-fits-node", [*BASE, on_ebs_key])
    assert len(without_driver) == 1 and "the stack installs no driver" in without_driver[0], without_driver
