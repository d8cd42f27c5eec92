"""What the system node group must hold, read from a plan, against what its instances can allocate.

Demand = the CPU/memory requests of every pod the scheduler can only put on system nodes (GPU nodes are tainted
and the GPU-only workloads select GPU nodes), per pod source:
- Kubernetes objects the stack creates (Deployment x replicas or its HPA's bound, CronJob and Job pods);
- Helm releases: each chart's workloads (`CHART_WORKLOADS`: values path -> replicas), requests from our values,
  else the chart default read at the pinned version (0 where the chart sets none, which is what the scheduler uses);
- EKS add-ons (`ADDON_WORKLOADS`), from the add-on's chart at the version EKS ships;
- DaemonSets count once per system node.
Requests we cannot read count as 0, so the demand is a lower bound: "does not fit" is a real finding.

Allocatable = EC2 DescribeInstanceTypes (moto's recorded catalogue) minus what EKS AL2023 reserves (nodeadm:
kube-reserved CPU 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above; memory
255Mi + 11Mi x maxPods; eviction-hard 100Mi; maxPods = ENIs x (IPv4 per ENI - 1) + 2, awslabs/amazon-eks-ami)
and ~4% of RAM the kernel keeps (MemTotal < nominal).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from mlops_infra.plan import Inventory, ResourceRecord

GPU_ONLY_LABELS = ("nvidia.com/gpu.present", "vpc.amazonaws.com/efa.present", "mlops.io/gpu-pool")


@dataclass(frozen=True)
class Demand:
    cpu_m: float
    memory_mib: float
    pods: int

    def __add__(self, other: Demand) -> Demand:
        return Demand(self.cpu_m + other.cpu_m, self.memory_mib + other.memory_mib, self.pods + other.pods)

    def times(self, n: int) -> Demand:
        return Demand(self.cpu_m * n, self.memory_mib * n, self.pods * n)


ZERO = Demand(0, 0, 0)


def cpu_m(quantity: Any) -> float:
    text = str(quantity)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def memory_mib(quantity: Any) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "": 1}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|)", str(quantity))
    assert match, f"memory quantity {quantity!r}"
    return float(match.group(1)) * units[match.group(2)] / 2**20


def requests(resources: Mapping[str, Any] | None) -> Demand:
    req = (resources or {}).get("requests") or {}
    return Demand(cpu_m(req.get("cpu", 0)), memory_mib(req.get("memory", 0)), 0)


def pod(spec: Mapping[str, Any]) -> Demand:
    """A pod's scheduling request: the sum over containers, or the largest init container if bigger."""
    main = sum((requests(c.get("resources")) for c in spec.get("containers", [])), ZERO)
    init = [requests(c.get("resources")) for c in spec.get("initContainers", []) or []]
    return Demand(max([main.cpu_m, *(i.cpu_m for i in init)]), max([main.memory_mib, *(i.memory_mib for i in init)]), 1)


def _gpu_only_affinity(spec: Mapping[str, Any]) -> bool:
    """Required node affinity that only GPU nodes satisfy: a GPU label, or instance types of GPU families only."""
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return False

    def gpu_term(term: Mapping[str, Any]) -> bool:
        for expr in term.get("matchExpressions") or []:
            key, values = expr.get("key"), expr.get("values") or []
            if key in GPU_ONLY_LABELS and expr.get("operator") in ("In", "Exists"):
                return True
            if key == "node.kubernetes.io/instance-type" and values and all(
                    str(v)[:1] in ("g", "p") for v in values):
                return True
        return False

    return all(gpu_term(t) for t in terms)


def on_system_nodes(spec: Mapping[str, Any]) -> bool:
    selector = spec.get("nodeSelector") or {}
    if any(k in selector for k in GPU_ONLY_LABELS) or _gpu_only_affinity(spec):
        return False
    return not any("nvidia.com/gpu" in ((c.get("resources") or {}).get("requests") or {})
                   for c in spec.get("containers", []))


@dataclass(frozen=True)
class Workload:
    path: str
    """Values path of the workload's block ('' = top level)."""
    replicas: str | None = "replicas"
    """Key of the replica count inside the block; None for a DaemonSet."""
    default: tuple[str, str] = ("0", "0")
    """Chart default requests (cpu, memory) when our values set none."""
    containers: int = 1
    resources: str = "resources"
    """Values path of the requests inside the block."""


# Each chart's pods, from its values.yaml at the pinned version (tests/data/chart-values names the commits).
CHART_WORKLOADS: dict[str, list[Workload]] = {
    "cluster-autoscaler": [Workload("", "replicaCount")],
    "karpenter": [Workload("", "replicas", resources="controller.resources")],
    "kube-prometheus-stack": [
        Workload("prometheus.prometheusSpec"), Workload("alertmanager.alertmanagerSpec"), Workload("grafana"),
        Workload("prometheusOperator"),  # 1 replica, resources {} (82.1.0)
        Workload("kube-state-metrics", "replicas"),  # kube-state-metrics 7.1.0: resources {}
        Workload("prometheus-node-exporter", None)],  # DaemonSet, prometheus-node-exporter 4.51.1: resources {}
    "prometheus-pushgateway": [Workload("", "replicaCount")],
    "external-secrets": [Workload("", "replicaCount"), Workload("webhook", "replicaCount"),
                         Workload("certController", "replicaCount")],
    # kubeflow-trainer 2.3.0: manager resources {}; its jobset 0.12.0 subchart: controller 500m / 128Mi.
    "kubeflow-trainer": [Workload("manager", "replicas"), Workload("jobset.controller", "replicas", ("500m", "128Mi"))],
    "kuberay-operator": [Workload("", "replicas")],
    "aws-load-balancer-controller": [Workload("", "replicaCount")],
    # Serving: cert-manager v1.21.1 (controller, webhook, cainjector; our values set requests); kserve-resources
    # v0.20.0 runs one controller Deployment (no replica value; requests from our values, chart default 100m / 300Mi).
    "cert-manager": [Workload("", "replicaCount"), Workload("webhook", "replicaCount"),
                     Workload("cainjector", "replicaCount")],
    "kserve-crd": [],
    "kserve-resources": [Workload("kserve.controller", "replicas", ("100m", "300Mi"))],
    "qdrant": [Workload("", "replicaCount")],
    # lakefs 1.12.16: one Deployment (`replicaCount`), resources {} in the chart (ours set them); the setup Job is
    # transient (not counted).
    "lakefs": [Workload("", "replicaCount")],
    # airflow 1.19.0 (KubernetesExecutor): scheduler, API server, DAG processor, triggerer, StatsD exporter (one
    # replica, no `replicas` key); resources {} in the chart, ours set them. Task pods are transient: not counted.
    "airflow": [Workload("scheduler"), Workload("apiServer"), Workload("dagProcessor"), Workload("triggerer"),
                Workload("statsd")],  # qdrant 1.19.0: one StatefulSet, resources {} (ours set them)
    # GPU-only charts: their pods select GPU nodes (device plugins) or GPU instance types (dcgm-exporter affinity).
    "nvidia-device-plugin": [], "aws-efa-k8s-device-plugin": [], "dcgm-exporter": [], "gpu-operator": [],
}


@dataclass(frozen=True)
class AddonWorkload:
    replicas: int | None
    """None for a DaemonSet."""
    cpu: str
    memory: str
    containers: int = 1


GUARDDUTY_AGENT = "aws-guardduty-agent"
# EKS managed add-ons: requests of the manifests EKS applies (each from the add-on's upstream chart/manifest).
ADDON_WORKLOADS: dict[str, list[AddonWorkload]] = {
    # EKS CoreDNS deployment: 2 replicas, requests 100m / 70Mi.
    "coredns": [AddonWorkload(2, "100m", "70Mi")],
    # EKS kube-proxy DaemonSet: requests cpu 100m.
    "kube-proxy": [AddonWorkload(None, "100m", "0")],
    # aws/eks-charts stable/aws-vpc-cni values.yaml: aws-node requests cpu 25m; nodeAgent resources {}.
    "vpc-cni": [AddonWorkload(None, "25m", "0")],
    # kubernetes-sigs/aws-ebs-csi-driver v1.60.0 chart: controller (2 replicas) and node containers default to
    # controller.resources / node.resources = 10m / 40Mi each (6 controller containers, 3 node containers).
    "aws-ebs-csi-driver": [AddonWorkload(2, "10m", "40Mi", containers=6), AddonWorkload(None, "10m", "40Mi", 3)],
    # kubernetes-sigs/metrics-server chart values.yaml: 1 replica, requests 100m / 200Mi.
    "metrics-server": [AddonWorkload(1, "100m", "200Mi")],
    # aws-observability/helm-charts amazon-cloudwatch-observability: manager 100m / 64Mi, CloudWatch agent
    # DaemonSet 250m / 128Mi, Fluent Bit DaemonSet 50m / 25Mi (dcgm/neuron monitors select GPU/Neuron types).
    "amazon-cloudwatch-observability": [AddonWorkload(1, "100m", "64Mi"), AddonWorkload(None, "250m", "128Mi"),
                                        AddonWorkload(None, "50m", "25Mi")],
    "eks-pod-identity-agent": [AddonWorkload(None, "0", "0")],  # no requests in the add-on's DaemonSet
    # aws/eks-node-monitoring-agent v1.6.2 charts/eks-node-monitoring-agent values.yaml: the agent DaemonSet requests
    # 10m / 30Mi; its dcgm DaemonSet (resources {}) has an affinity to GPU instance types, so it is not counted.
    "eks-node-monitoring-agent": [AddonWorkload(None, "10m", "30Mi")],
    # GuardDuty's security agent: a DaemonSet, requests 200m / 256Mi by default (GuardDuty user guide, "Configure
    # GuardDuty security agent (add-on) parameters for Amazon EKS"). GuardDuty installs it itself (no Addon in the
    # plan) when Runtime Monitoring runs with EKS_ADDON_MANAGEMENT: `guardduty_agent` finds that.
    GUARDDUTY_AGENT: [AddonWorkload(None, "200m", "256Mi")],
}


def adopts_guardduty_detector(inv: Inventory) -> bool:
    """`guarddutyDetector: existing`: the stack routes GuardDuty findings (its EventBridge rule) but has no detector
    of its own; the account's detector (another stack's, e.g. prod's for staging) decides the features."""
    routes = any("aws.guardduty" in json.loads(r.inputs.get("eventPattern") or "{}").get("source", [])
                 for r in inv.of_type("aws:cloudwatch/eventRule:EventRule"))
    return routes and not inv.of_type("aws:guardduty/detector:Detector")


def guardduty_agent(inv: Inventory) -> bool:
    """True when the stack's detector runs Runtime Monitoring with GuardDuty managing the EKS agent add-on, or when the
    stack adopts the account's detector: automated agent management is account-wide (GuardDuty user guide,
    "Configuring EKS Runtime Monitoring for a standalone account (API)": with EKS_ADDON_MANAGEMENT enabled "GuardDuty
    will manage the deployment of and updates to the security agent for all the Amazon EKS clusters in your
    account"), and the owner's features are not in this plan, so the agent is counted."""
    return adopts_guardduty_detector(inv) or any(f.inputs.get("name") == "RUNTIME_MONITORING" and f.inputs.get("status") == "ENABLED"
               and {"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"} in (f.inputs.get("additionalConfigurations") or [])
               for f in inv.of_type("aws:guardduty/detectorFeature:DetectorFeature"))


def _lookup(values: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    node: Any = values
    for key in [k for k in path.split(".") if k]:
        node = node.get(key, {}) if isinstance(node, Mapping) else {}
    return node if isinstance(node, Mapping) else {}


def chart_name(chart: str) -> str:
    return chart.rstrip("/").rsplit("/", 1)[-1]


def release_demand(release: ResourceRecord) -> tuple[Demand, Demand]:
    """(Deployments' total, one node's DaemonSet share) of a Helm release's system-node pods."""
    name = chart_name(str(release.inputs["chart"]))
    assert name in CHART_WORKLOADS, f"{release.name}: chart {name} has no entry in CHART_WORKLOADS"
    values = release.inputs.get("values") or {}
    total, per_node = ZERO, ZERO
    for w in CHART_WORKLOADS[name]:
        block = _lookup(values, w.path)
        if block.get("enabled") is False or any(k in (block.get("nodeSelector") or {}) for k in GPU_ONLY_LABELS):
            continue
        res = _lookup(block, w.resources)
        one = requests(res) if res else Demand(cpu_m(w.default[0]), memory_mib(w.default[1]), 0)
        one = Demand(one.cpu_m * w.containers, one.memory_mib * w.containers, 1)
        if w.replicas is None:
            per_node += one
        else:
            total += one.times(int(block.get(w.replicas, 1) or 1))
    return total, per_node


def addon_demand(addon_name: str) -> tuple[Demand, Demand]:
    assert addon_name in ADDON_WORKLOADS, f"add-on {addon_name} has no entry in ADDON_WORKLOADS"
    total, per_node = ZERO, ZERO
    for w in ADDON_WORKLOADS[addon_name]:
        one = Demand(cpu_m(w.cpu) * w.containers, memory_mib(w.memory) * w.containers, 1)
        if w.replicas is None:
            per_node += one
        else:
            total += one.times(w.replicas)
    return total, per_node


def pod_specs(inv: Inventory, peak: bool) -> Iterator[tuple[Mapping[str, Any], int]]:
    hpas = {h.inputs["spec"]["scaleTargetRef"]["name"]: h.inputs["spec"]
            for h in inv.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")}
    for kind in ("Deployment", "StatefulSet"):
        for r in inv.of_type(f"kubernetes:apps/v1:{kind}"):
            spec, name = r.inputs["spec"], (r.inputs.get("metadata") or {}).get("name", "")
            hpa = hpas.get(name)
            replicas = (hpa["maxReplicas"] if peak else hpa.get("minReplicas", 1)) if hpa else spec.get("replicas", 1)
            yield spec["template"]["spec"], int(replicas)
    for r in inv.of_type("kubernetes:batch/v1:CronJob"):
        yield r.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"], 1
    for r in inv.of_type("kubernetes:batch/v1:Job"):
        yield r.inputs["spec"]["template"]["spec"], 1


def system_demand(inv: Inventory, *, peak: bool = False) -> tuple[Demand, Demand]:
    """(everything that is not a DaemonSet, one system node's DaemonSet share). `peak`: HPAs at maxReplicas."""
    total, per_node = ZERO, ZERO
    for spec, replicas in pod_specs(inv, peak):
        if on_system_nodes(spec):
            total += pod(spec).times(replicas)
    for r in inv.of_type("kubernetes:apps/v1:DaemonSet"):
        if on_system_nodes(r.inputs["spec"]["template"]["spec"]):
            per_node += pod(r.inputs["spec"]["template"]["spec"])
    rendered_from = {r.parent for r in inv.rendered()}
    for release in inv.of_type("kubernetes:helm.sh/v3:Release"):
        if release.urn in rendered_from:
            continue  # its Deployments, StatefulSets and DaemonSets, as rendered, are counted above
        t, n = release_demand(release)
        total, per_node = total + t, per_node + n
    for kind in ("Prometheus", "Alertmanager"):  # the operator builds their StatefulSets from the custom resource
        for r in inv.of_type(f"kubernetes:monitoring.coreos.com/v1:{kind}"):
            if r.parent in rendered_from:
                total += requests(r.inputs["spec"].get("resources")).times(int(r.inputs["spec"].get("replicas", 1)))
                total += Demand(0, 0, int(r.inputs["spec"].get("replicas", 1)))
    addons = [str(a.inputs["addonName"]) for a in inv.of_type("aws:eks/addon:Addon")]
    for addon in [*addons, *([GUARDDUTY_AGENT] if guardduty_agent(inv) and GUARDDUTY_AGENT not in addons else [])]:
        t, n = addon_demand(addon)
        total, per_node = total + t, per_node + n
    return total, per_node


def _kube_reserved_cpu_m(vcpus: int) -> float:
    bands = [(1, 0.06), (1, 0.01), (2, 0.005)]
    reserved, left = 0.0, vcpus
    for cores, share in bands:
        used = min(cores, left)
        reserved, left = reserved + used * 1000 * share, left - used
    return reserved + max(left, 0) * 1000 * 0.0025


def allocatable(instance_type: str) -> Demand:
    """What one node of `instance_type` offers pods (cpu in millicores, memory in MiB, pods = max pods)."""
    with mock_aws():
        (info,) = boto3.client("ec2", region_name="us-east-1").describe_instance_types(
            InstanceTypes=[instance_type])["InstanceTypes"]
    vcpus, mem = info["VCpuInfo"]["DefaultVCpus"], info["MemoryInfo"]["SizeInMiB"]
    net = info["NetworkInfo"]
    max_pods = net["MaximumNetworkInterfaces"] * (net["Ipv4AddressesPerInterface"] - 1) + 2
    memory = math.floor(mem * 0.96) - (255 + 11 * max_pods) - 100
    return Demand(vcpus * 1000 - _kube_reserved_cpu_m(vcpus), memory, max_pods)
