"""Cluster-side invariants: each with a broken relation (both ends named) and its repaired twin."""

from __future__ import annotations

import json
from typing import Any

from mlops_policies.invariants_index import (
    ADDON,
    CLUSTER,
    HPA,
    INGRESS,
    NETWORK_POLICY,
    NODE_GROUP,
    PVC,
    RELEASE,
    STORAGE_CLASS,
)

from .cases import Case, check, params
from .helpers import R

EKS = R(CLUSTER, "eks", {"name": "c"})
NETPOL = R(NETWORK_POLICY, "np", {"metadata": {"name": "deny", "namespace": "ranking"}, "spec": {}})


def vpc_cni(values: dict[str, Any] | None) -> R:
    inputs: dict[str, Any] = {"addonName": "vpc-cni"}
    if values is not None:
        inputs["configurationValues"] = json.dumps(values)
    return R(ADDON, "cni", inputs)


def pool(low: int, high: int = 4) -> R:
    return R(NODE_GROUP, "gpu", {"scalingConfig": {"minSize": low, "maxSize": high, "desiredSize": low}})


def release(name: str, chart: str, values: dict[str, Any] | None = None, ns: str = "kube-system") -> R:
    return R(RELEASE, name, {"chart": chart, "namespace": ns, "values": values or {}})


CA_IRSA = release("ca", "cluster-autoscaler",
                  {"rbac": {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/ca"}}}})


def ingress(cls: str) -> R:
    return R(INGRESS, "ing", {"metadata": {"name": "mlflow", "namespace": "mlflow"}, "spec": {"ingressClassName": cls}})


def hpa(*types: str) -> R:
    spec: dict[str, Any] = {"scaleTargetRef": {"kind": "Deployment", "name": "server"}, "minReplicas": 2}
    if types:
        spec["metrics"] = [{"type": t} for t in types]
    return R(HPA, "hpa", {"metadata": {"name": "server", "namespace": "feast"}, "spec": spec})


KPS = release("kps", "kube-prometheus-stack", {"prometheus": {"prometheusSpec": {"storageSpec": {
    "volumeClaimTemplate": {"spec": {"storageClassName": "gp3"}}}}}}, ns="monitoring")
GP3 = R(STORAGE_CLASS, "gp3", {"metadata": {"name": "gp3"}, "provisioner": "ebs.csi.aws.com"})
EBS = R(ADDON, "ebs", {"addonName": "aws-ebs-csi-driver"})
SM_TYPE = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
STATIC_PV = R("kubernetes:core/v1:PersistentVolume", "pv", {"metadata": {"name": "datasets"}, "spec": {
    "storageClassName": "", "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}})
MONITOR = R(SM_TYPE, "sm", {"metadata": {"name": "sm", "namespace": "monitoring"}, "spec": {"selector": {}}})

NP = "mlops-inv-networkpolicy-enforced"
AS = "mlops-inv-scale-from-zero-autoscaler"
IC = "mlops-inv-ingress-controller"
HM = "mlops-inv-hpa-metrics-source"
SC = "mlops-inv-storage-class-exists"
CRD = "mlops-inv-crd-before-custom-resource"
SHARED = "mlops-inv-shared-cluster-assumptions"
NOT_ENFORCED = ('cni: vpc-cni add-on does not enforce NetworkPolicies (configurationValues has no enableNetworkPolicy '
                '"true"), but the stack creates 1: np')

CASES = [
    # 1. NetworkPolicies need an enforcing CNI.
    Case("vpc-cni-enforces", NP, [EKS, NETPOL, vpc_cni({"enableNetworkPolicy": "true"})], []),
    Case("vpc-cni-default", NP, [EKS, NETPOL, vpc_cni(None)], [NOT_ENFORCED]),
    Case("vpc-cni-false", NP, [EKS, NETPOL, vpc_cni({"enableNetworkPolicy": "false"})], [NOT_ENFORCED]),
    Case("cilium", NP, [EKS, NETPOL, vpc_cni(None), release("cilium", "cilium")], []),
    Case("no-policies", NP, [EKS, vpc_cni(None)], []),
    Case("no-cni-at-all", NP, [EKS, NETPOL],
         ["demo-test: NetworkPolicies np are not enforced: the stack has no vpc-cni add-on and no other enforcing CNI"]),
    Case("shared-cluster", NP, [NETPOL, vpc_cni(None)], []),
    Case("config-owns-cluster", NP, [NETPOL, vpc_cni(None)], [NOT_ENFORCED], config={"clusterOwner": True}),
    # 2. Node groups at zero need an autoscaler with AWS credentials.
    Case("autoscaler", AS, [EKS, pool(0), CA_IRSA], []),
    Case("karpenter-pod-identity", AS, [EKS, pool(0), release("k", "oci://public.ecr.aws/karpenter/karpenter"),
                                        R("aws:eks/podIdentityAssociation:PodIdentityAssociation", "pia",
                                          {"namespace": "kube-system", "serviceAccount": "karpenter"})], []),
    Case("autoscaler-annotated-account", AS, [EKS, pool(0), release("ca", "cluster-autoscaler", {
        "rbac": {"serviceAccount": {"create": False, "name": "cluster-autoscaler"}}}), R(
        "kubernetes:core/v1:ServiceAccount", "ca-sa", {"metadata": {"namespace": "kube-system", "name": "cluster-autoscaler",
                                                                    "annotations": {"eks.amazonaws.com/role-arn": "arn"}}})], []),
    Case("min-one", AS, [EKS, pool(1)], []),
    Case("no-autoscaler", AS, [EKS, pool(0)],
         ["gpu: node group scales from zero (minSize 0, maxSize 4) but the stack has no cluster-autoscaler or "
          "Karpenter release to add its first node"]),
    Case("autoscaler-without-iam", AS, [EKS, pool(0), release("ca", "cluster-autoscaler")],
         ["gpu: node group scales from zero (minSize 0) but autoscaler release ca has no AWS identity (no "
          "eks.amazonaws.com/role-arn in its values, no Pod Identity association in its namespace)"]),
    # 3. Ingress classes need a controller.
    Case("alb-controller", IC, [EKS, ingress("alb"), release("lbc", "aws-load-balancer-controller")], []),
    Case("alb-no-controller", IC, [EKS, ingress("alb")],
         ["ing: Ingress class 'alb' has no controller in the stack: install aws-load-balancer-controller"]),
    Case("nginx-class-renamed", IC, [EKS, ingress("nginx"), release("nx", "ingress-nginx", {
        "controller": {"ingressClassResource": {"name": "internal"}}})],
         ["ing: Ingress class 'nginx' has no controller in the stack: install a controller for class 'nginx'"]),
    # 4. HPAs need a metrics source.
    Case("metrics-server-addon", HM, [EKS, hpa("Resource"), R(ADDON, "ms", {"addonName": "metrics-server"})], []),
    Case("metrics-server-chart-default-cpu", HM, [EKS, hpa(), release("ms", "metrics-server")], []),
    Case("no-metrics-server", HM, [EKS, hpa("Resource")],
         ["hpa: HPA for server uses Resource metrics but the stack has no metrics-server: it never scales"]),
    Case("external-without-adapter", HM, [EKS, hpa("Resource", "External"), release("ms", "metrics-server")],
         ["hpa: HPA for server uses External metrics but the stack has no adapter serving "
          "external.metrics.k8s.io: it never scales"]),
    Case("external-keda", HM, [EKS, hpa("External"), release("keda", "keda")], []),
    # 5. Named StorageClasses must exist (gp2 counts unless removed) and EBS classes need the CSI driver.
    Case("gp3-created", SC, [EKS, KPS, GP3, EBS], []),
    Case("gp3-missing", SC, [EKS, KPS, EBS],
         ["kps: value prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName names "
          "StorageClass 'gp3', which the stack does not create: the claim stays Pending"]),
    Case("pvc-gp2-builtin", SC, [EKS, EBS, R(PVC, "pvc", {"spec": {"storageClassName": "gp2"}})], []),
    Case("pvc-gp2-removed", SC, [EKS, EBS, R(PVC, "pvc", {"spec": {"storageClassName": "gp2"}})],
         ["pvc: PVC names StorageClass 'gp2', which the stack does not create: the claim stays Pending"],
         config={"eksDefaultStorageClasses": []}),
    Case("sts-template-no-ebs-driver", SC, [EKS, GP3, R("kubernetes:apps/v1:StatefulSet", "sts", {"spec": {
        "volumeClaimTemplates": [{"spec": {"storageClassName": "gp3"}}]}})],
         ["sts: volumeClaimTemplates[0] names EBS StorageClass 'gp3' but the stack has no aws-ebs-csi-driver "
          "add-on to provision it"]),
    Case("ephemeral-volume-class-missing", SC, [EKS, EBS, R("kubernetes:apps/v1:Deployment", "api", {"spec": {"template": {
        "spec": {"volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
            "storageClassName": "fast"}}}}]}}}})],
         ["api: ephemeral volume scratch names StorageClass 'fast', which the stack does not create: the claim stays "
          "Pending"]),
    # review #30 (rfam) finding 7: a static EBS PersistentVolume needs the driver too (it attaches the volume)
    Case("static-ebs-pv-no-driver", SC, [EKS, STATIC_PV],
         ["pv: PersistentVolume datasets is an EBS volume of the CSI driver ebs.csi.aws.com but the stack has no "
          "aws-ebs-csi-driver add-on to attach it: pods that mount it stay in ContainerCreating"]),
    Case("static-ebs-pv-with-driver", SC, [EKS, EBS, STATIC_PV], []),
    # CRDs: a custom resource depends on the release that installs its group.
    Case("cr-depends-on-release", CRD, [EKS, KPS, R(SM_TYPE, "sm", MONITOR.inputs, deps={"metadata": ["kps"]})], []),
    Case("cr-without-dependency", CRD, [EKS, KPS, MONITOR],
         ["sm: ServiceMonitor monitoring/sm does not wait for Release kps, which installs its CRD "
          "(ServiceMonitor.monitoring.coreos.com): the first deploy can create it before the CRD exists ('no matches "
          "for kind'); pass depends_on on the installer (or on something that waits for it)"]),
    Case("cr-no-installer", CRD, [EKS, MONITOR],
         ["sm: ServiceMonitor monitoring/sm uses API group monitoring.coreos.com, but nothing in the stack installs "
          "its CRD (no CustomResourceDefinition for ServiceMonitor, no release of a chart that carries it): install "
          "the CRD (its chart or the CRD object) and make the resource depend on it"]),
    # Workloads-only stacks: at most an advisory naming the assumptions.
    Case("owner-no-advisory", SHARED, [EKS, NETPOL, hpa("Resource")], []),
    Case("workloads-only", SHARED, [NETPOL, hpa("Resource"), KPS, ingress("alb")],
         ["demo-test: stack deploys onto a cluster it does not own and assumes it provides: a CNI that enforces "
          "NetworkPolicies; metrics-server; StorageClasses gp3; Ingress controllers for alb"]),
]


@params(CASES)
def test_cluster_invariant(case: Case) -> None:
    check(case)


def test_shared_cluster_advisory_is_never_mandatory() -> None:
    from .helpers import run

    report = run(SHARED, [NETPOL], env="prod")
    assert [f.enforcement for f in report.findings] == ["advisory"]
