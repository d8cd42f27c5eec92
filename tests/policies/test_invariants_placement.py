"""Family `placement`: pods fit a node type their selectors and tolerations admit, extended resources have a plugin
that runs there, and every object a pod names exists in its namespace."""

from __future__ import annotations

import gzip
import json
import os
from typing import Any

import pytest
from mlops_policies.invariants_placement import pod_requests, quantity
from mlops_policies.node_model import InstanceType, catalogue

from tests.nonempty import each

from .helpers import R, messages

FIT, REF = "mlops-inv-pod-fits-node", "mlops-inv-pod-reference"
EKS = R("aws:eks/cluster:Cluster", "eks", {"name": "c"})
DEPLOY, DS = "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet"
GPU_TAINT = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
TOLERATE_GPU = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def group(name: str, types: list[str], labels: dict[str, str] | None = None,
          taints: list[dict[str, str]] | None = None) -> R:
    return R("aws:eks/nodeGroup:NodeGroup", name, {"nodeGroupName": name, "instanceTypes": types,
                                                   "labels": labels or {}, "taints": taints or [],
                                                   "scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1}})


def pod(spec: dict[str, Any], type_: str = DEPLOY, name: str = "api", ns: str = "app") -> R:
    spec = {"containers": [{"name": "c", "image": "i", **spec.pop("container", {})}], **spec}
    return R(type_, name, {"metadata": {"name": name, "namespace": ns},
                           "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})


def requests(**values: Any) -> dict[str, Any]:
    return {"container": {"resources": {"requests": values}}}


SYSTEM = group("system", ["m5.large"], {"role": "system"})
GPUS = group("gpu", ["g5.xlarge"], {"role": "gpu"}, GPU_TAINT)
PLUGIN = pod({"container": {"image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"}, "tolerations": TOLERATE_GPU},
             DS, "nvidia-device-plugin", "kube-system")


def test_eks_reservation_formula_on_m5_large() -> None:
    m5 = catalogue()["m5.large"]
    assert (m5.vcpus, m5.memory_mib, m5.max_pods) == (2, 8192, 29)  # 3 ENIs * (10 - 1) + 2
    # cpu: 6% of the first core + 1% of the second = 70m; memory: 255 + 11 * 29 + 100 (eviction) = 674Mi
    assert m5.allocatable == {"cpu": 1930, "memory": 8192 - 674}
    big = InstanceType("x", 96, 1, 2, 0, False, "x86_64")
    assert big.allocatable["cpu"] == 96000 - 60 - 10 - 10 - 92000 * 0.0025


def test_kube_reserved_counts_the_eni_max_pods_not_the_managed_node_group_cap() -> None:
    # review #30 (rfam): EKS caps the kubelet's maxPods of a managed node group at 110 (c6i.4xlarge: 234 -> 110), but
    # nodeadm computes kubeReserved from CalcMaxPods(instance info) (and AL2 bootstrap.sh from eni-max-pods.txt)
    c6i = catalogue()["c6i.4xlarge"]
    assert (c6i.max_pods, c6i.pod_slots) == (234, 110)
    assert c6i.allocatable["memory"] == 32768 - (11 * 234 + 255) - 100


def test_catalogue_matches_ec2_describe_instance_types() -> None:
    moto = pytest.importorskip("moto")
    with gzip.open(os.path.join(os.path.dirname(moto.__file__), "ec2/resources/instance_types.json.gz")) as raw:
        data = json.load(raw)
    rows = catalogue()
    assert len(rows) > 100
    for name, row in each(rows.items()):
        info, net = data[name], data[name]["NetworkInfo"]
        card = next(c for c in net["NetworkCards"] if c["NetworkCardIndex"] == net.get("DefaultNetworkCardIndex", 0))
        assert row.vcpus == info["VCpuInfo"]["DefaultVCpus"] and row.memory_mib == info["MemoryInfo"]["SizeInMiB"]
        assert (row.enis, row.ipv4_per_eni) == (card["MaximumNetworkInterfaces"], net["Ipv4AddressesPerInterface"]), name
        assert row.max_pods == row.enis * (row.ipv4_per_eni - 1) + 2, name
        assert row.gpus == sum(g["Count"] for g in (info.get("GpuInfo") or {}).get("Gpus", [])), name


def test_quantities_and_effective_requests() -> None:
    assert quantity("500m") == 0.5 and quantity("1Gi") == 2**30 and quantity(2) == 2 and quantity("x") is None
    spec = {"initContainers": [{"resources": {"requests": {"cpu": "4"}}},
                               {"restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}}],
            "containers": [{"resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}]}
    assert pod_requests(spec) == {"cpu": 4, "memory": 2**30}  # max(init 4, sidecar 1 + app 2 from limits)


def test_requests_must_fit_some_admitted_node_type() -> None:
    assert messages(FIT, [EKS, SYSTEM, pod(requests(cpu="1500m", memory="6Gi"))]) == []
    found = messages(FIT, [EKS, SYSTEM, pod(requests(cpu="1500m", memory="8Gi"))])
    assert len(found) == 1 and "Deployment app/api requests" in found[0] and "node group system (m5.large)" in found[0]
    assert "allocatable memory is 7518Mi" in found[0]


def test_node_selector_and_affinity_must_match_a_pool() -> None:
    assert messages(FIT, [EKS, SYSTEM, pod({"nodeSelector": {"role": "system"}})]) == []
    found = messages(FIT, [EKS, SYSTEM, pod({"nodeSelector": {"role": "batch"}})])
    assert len(found) == 1 and "can be placed on no node" in found[0] and "lacks label role=batch" in found[0]
    arm = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]}]}}}}
    assert messages(FIT, [EKS, SYSTEM, pod(arm)]) != []
    assert messages(FIT, [EKS, SYSTEM, group("graviton", ["m7g.large"]), pod(arm)]) == []
    zone = {"nodeSelector": {"topology.kubernetes.io/zone": "us-east-1a"}}
    assert messages(FIT, [EKS, SYSTEM, pod(zone)]) == []  # labels others set are not judged


def test_taints_must_be_tolerated() -> None:
    gpu_only = {"nodeSelector": {"role": "gpu"}}
    found = messages(FIT, [EKS, GPUS, PLUGIN, pod(dict(gpu_only))])
    assert len(found) == 1 and "does not tolerate its taint nvidia.com/gpu=true:NoSchedule" in found[0]
    assert messages(FIT, [EKS, GPUS, PLUGIN, pod({**gpu_only, "tolerations": TOLERATE_GPU})]) == []


def test_gpu_needs_a_device_plugin_that_runs_on_the_gpu_nodes() -> None:
    gpu_pod = {**requests(**{"nvidia.com/gpu": 1}), "tolerations": TOLERATE_GPU}
    assert messages(FIT, [EKS, SYSTEM, GPUS, PLUGIN, pod(dict(gpu_pod))]) == []
    found = messages(FIT, [EKS, SYSTEM, GPUS, pod(dict(gpu_pod))])
    assert len(found) == 1 and "no device plugin advertises nvidia.com/gpu there" in found[0]
    intolerant = pod({"container": {"image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"}}, DS, "plugin", "kube-system")
    assert messages(FIT, [EKS, SYSTEM, GPUS, intolerant, pod(dict(gpu_pod))]) != []
    too_many = {**requests(**{"nvidia.com/gpu": 2}), "tolerations": TOLERATE_GPU}
    assert "it has 1 GPUs" in messages(FIT, [EKS, GPUS, PLUGIN, pod(too_many)])[0]


def test_efa_needs_an_efa_instance_and_plugin() -> None:
    efa_pod = {**requests(**{"vpc.amazonaws.com/efa": 1}), "tolerations": TOLERATE_GPU}
    plugin = pod({"container": {"image": "public.ecr.aws/eks/aws-efa-k8s-device-plugin:v0.5.6"},
                  "tolerations": TOLERATE_GPU}, DS, "efa", "kube-system")
    assert messages(FIT, [EKS, GPUS, plugin, pod(dict(efa_pod))])[0].count("it has no EFA") == 1
    big = group("big", ["g5.8xlarge"], {}, GPU_TAINT)
    assert messages(FIT, [EKS, big, plugin, pod(dict(efa_pod))]) == []


def test_karpenter_pool_requirements_pick_instance_types() -> None:
    pool = R("kubernetes:karpenter.sh/v1:NodePool", "np", {"metadata": {"name": "batch"}, "spec": {"template": {
        "metadata": {"labels": {"role": "batch"}}, "spec": {"requirements": [
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.large", "m5.xlarge"]}]}}}})
    assert messages(FIT, [EKS, pool, pod({"nodeSelector": {"role": "batch"}, **requests(cpu="3")})]) == []
    assert messages(FIT, [EKS, pool, pod({"nodeSelector": {"role": "batch"}, **requests(cpu="8")})]) != []
    open_pool = R("kubernetes:karpenter.sh/v1:NodePool", "np", {"metadata": {"name": "any"}, "spec": {}})
    assert messages(FIT, [EKS, open_pool, pod(requests(cpu="64"))]) == []  # any size: not judged


def test_node_facts_unknown_are_not_judged() -> None:
    huge = pod(requests(cpu="100"))
    assert messages(FIT, [SYSTEM, huge]) == []  # consumer stack: the cluster's nodes are not here
    assert messages(FIT, [EKS, huge]) == []  # no pool the program defines
    asg = R("aws:autoscaling/group:Group", "asg", {"maxSize": 2, "minSize": 1})
    assert messages(FIT, [EKS, SYSTEM, asg, huge]) == []


def test_pod_references_exist_in_the_namespace() -> None:
    spec = {"serviceAccountName": "api", "volumes": [
        {"name": "cfg", "configMap": {"name": "settings"}}, {"name": "data", "persistentVolumeClaim": {
            "claimName": "data"}}], "container": {"envFrom": [{"secretRef": {"name": "creds"}}]}}
    objects = [R(f"kubernetes:core/v1:{kind}", kind.lower(), {"metadata": {"name": name, "namespace": "app"}})
               for kind, name in (("ServiceAccount", "api"), ("ConfigMap", "settings"),
                                  ("PersistentVolumeClaim", "data"), ("Secret", "creds"))]
    assert messages(REF, [pod(dict(spec)), *objects]) == []
    for missing in each(range(4)):
        found = messages(REF, [pod(dict(spec)), *objects[:missing], *objects[missing + 1:]])
        kind = objects[missing].type.rsplit(":", 1)[-1]
        assert len(found) == 1 and f"names {kind} app/" in found[0] and "Deployment app/api" in found[0]
    elsewhere = R("kubernetes:core/v1:ConfigMap", "cm2", {"metadata": {"name": "settings", "namespace": "other"}})
    assert messages(REF, [pod(dict(spec)), *[o for o in objects if o.name != "configmap"], elsewhere]) != []


def test_default_objects_and_optional_references_are_not_judged() -> None:
    spec = {"serviceAccountName": "default", "volumes": [
        {"name": "ca", "configMap": {"name": "kube-root-ca.crt"}},
        {"name": "opt", "configMap": {"name": "maybe", "optional": True}}]}
    assert messages(REF, [pod(spec)]) == []


def test_launch_template_type_and_autonamed_group_label() -> None:
    template = R("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "m5.xlarge"})
    grp = R("aws:eks/nodeGroup:NodeGroup", "ng", {"launchTemplate": {"id": "lt-1", "version": "1"}},
            deps={"launchTemplate": ["lt"]})
    assert messages(FIT, [EKS, template, grp, pod(requests(cpu="3"))]) == []  # m5.xlarge: 4 vCPUs
    assert messages(FIT, [EKS, R("aws:eks/nodeGroup:NodeGroup", "ng", {}), pod(requests(cpu="3"))]) != []  # t3.medium
    named = {"nodeSelector": {"eks.amazonaws.com/nodegroup": "ng"}}
    assert messages(FIT, [EKS, template, grp, pod(named)]) == []  # the group's name is generated: not judged


def test_a_device_plugin_from_an_unrendered_manifest_counts() -> None:
    url = R("kubernetes:yaml/v2:ConfigFile", "plugin", {
        "file": "https://raw.githubusercontent.com/NVIDIA/k8s-device-plugin/v0.17.0/deployments/static/"
                "nvidia-device-plugin.yml"})
    gpu_pod = {**requests(**{"nvidia.com/gpu": 1}), "tolerations": TOLERATE_GPU}
    assert messages(FIT, [EKS, GPUS, url, pod(dict(gpu_pod))]) == []


def test_consumer_stack_judges_pods_pinned_to_its_own_nodepool_and_names_the_plugin() -> None:
    """#30 placement_karpenter-gpu: a stack without the cluster defines a Karpenter NodePool, the device plugin and a
    Job pinned to the pool; the plugin does not tolerate the pool's taint, so the pool never advertises the GPU."""
    pool = R("kubernetes:karpenter.sh/v1:NodePool", "gpu-pool", {"metadata": {"name": "gpu"}, "spec": {"template": {
        "spec": {"requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                                   "values": ["g5.xlarge"]}],
                 "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]}}}})
    job = pod({"nodeSelector": {"karpenter.sh/nodepool": "gpu"}, "tolerations": TOLERATE_GPU,
               **requests(cpu="2", memory="8Gi", **{"nvidia.com/gpu": "1"})}, name="train")
    blind = pod({"container": {"image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"}}, DS, "nvidia-device-plugin",
                "kube-system")
    found = messages(FIT, [pool, blind, job])
    assert len(found) == 1
    assert "train" in found[0] and "no device plugin advertises nvidia.com/gpu there" in found[0]
    assert "nvidia-device-plugin does not run there: the pod does not tolerate its taint nvidia.com/gpu" in found[0]
    assert messages(FIT, [pool, PLUGIN, job]) == []
    assert messages(FIT, [pool, job]) == []  # no plugin here: the cluster's stack may install it
    unpinned = pod({"tolerations": TOLERATE_GPU, **requests(cpu="2", memory="8Gi", **{"nvidia.com/gpu": "1"})},
                   name="free")
    assert messages(FIT, [pool, blind, unpinned]) == []  # the cluster's other pools are unknown here
    assert messages(FIT, [EKS, pool, blind, unpinned]) != []  # in the cluster's stack it is judged
