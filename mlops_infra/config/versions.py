"""Pinned versions in one place, each with where it was checked (Nov 2026).

EKS support dates: AWS EKS Kubernetes version lifecycle page (standard support 14 months, extended 12 more).
Add-on builds: `aws eks describe-addon-versions --kubernetes-version 1.35`, cross-checked against public EKS 1.35
configs (terraform-aws-modules/terraform-aws-eks examples pin kube-proxy v1.35.3-eksbuild.2, coredns
v1.13.2-eksbuild.4, vpc-cni v1.21.1-eksbuild.7, eks-pod-identity-agent v1.3.10-eksbuild.2; aws-ebs-csi-driver
v1.60.0-eksbuild.1 is pinned next to kube-proxy v1.35.3 in the same search).
Charts: each chart's own release notes / repository (see the comment on each pin) and docs/peers.md.
"""

from __future__ import annotations

from dataclasses import dataclass

# minor version -> (end of standard support, end of extended support). With upgradeSupportType STANDARD, EKS upgrades
# the control plane itself at the first date (the stack's version is then a downgrade): `mlops-infra preflight` reports
# it cluster.standardSupportNoticeDays ahead (aws/preflight.py `_auto_upgrade_check`; docs/upgrades.md).
EKS_VERSION_SUPPORT: dict[str, tuple[str, str]] = {
    "1.33": ("2026-07-29", "2027-07-29"),
    "1.34": ("2026-12-02", "2027-12-02"),
    "1.35": ("2027-03-27", "2028-03-27"),
}
SUPPORTED_EKS_VERSIONS: tuple[str, ...] = tuple(EKS_VERSION_SUPPORT)
DEFAULT_EKS_VERSION = "1.35"

# EKS managed add-ons for Kubernetes 1.35 (see the module docstring for where each was checked).
ADDON_VPC_CNI = "v1.21.1-eksbuild.7"
ADDON_COREDNS = "v1.13.2-eksbuild.4"
ADDON_KUBE_PROXY = "v1.35.3-eksbuild.2"
ADDON_EBS_CSI = "v1.60.0-eksbuild.1"
ADDON_POD_IDENTITY_AGENT = "v1.3.10-eksbuild.2"


@dataclass(frozen=True)
class ChartPin:
    """A Helm chart: name, repository (empty repo and an `oci://` chart for OCI registries), default version."""

    chart: str
    repo: str
    version: str


# NVIDIA/k8s-device-plugin PR #1600 "Bump release v0.18.2" (merged); repo from the project README.
DEVICE_PLUGIN = ChartPin("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "0.18.2")
# NVIDIA/gpu-operator PR #1963 "Bump project version to 25.10.1" (merged); NGC Helm repo.
GPU_OPERATOR = ChartPin("gpu-operator", "https://helm.ngc.nvidia.com/nvidia", "v25.10.1")
# aws/eks-charts `aws-efa-k8s-device-plugin` 0.5.x (docs/peers.md).
EFA_PLUGIN = ChartPin("aws-efa-k8s-device-plugin", "https://aws.github.io/eks-charts", "0.5.30")
# Karpenter 1.9 (awslabs/data-on-eks pins 1.9 on EKS 1.34; 1.9 is the line that covers Kubernetes 1.35).
KARPENTER = ChartPin("oci://public.ecr.aws/karpenter/karpenter", "", "1.9.0")
# Kubeflow Trainer v2 (successor of the v1 Training Operator, which ships no Helm chart): kubeflow/trainer
# release v2.3.0 installs with `helm install ... oci://ghcr.io/kubeflow/charts/kubeflow-trainer --version 2.3.0`;
# upgrades from 2.0-2.2 must pass through 2.3, so a fresh install starts there. Needs Kubernetes >= 1.31.
KUBEFLOW_TRAINER = ChartPin("oci://ghcr.io/kubeflow/charts/kubeflow-trainer", "", "2.3.0")
# KubeRay operator: docs.ray.io "KubeRay Operator Installation" (helm repo kuberay, --version 1.5.1).
KUBERAY = ChartPin("kuberay-operator", "https://ray-project.github.io/kuberay-helm/", "1.5.1")
# kubernetes/autoscaler chart `cluster-autoscaler` 9.59.0 (git tag cluster-autoscaler-chart-9.59.0, 2026-07-21,
# appVersion 1.35.0; values.yaml read at that tag: autoDiscovery.tags, rbac.serviceAccount, awsRegion has no default).
CLUSTER_AUTOSCALER = ChartPin("cluster-autoscaler", "https://kubernetes.github.io/autoscaler", "9.59.0")
# Image per Kubernetes minor (the autoscaler's minor must equal the cluster's): the newest patch tag of each line in
# kubernetes/autoscaler (cluster-autoscaler-1.33.6, -1.34.5, -1.35.2), image registry.k8s.io/autoscaling/cluster-autoscaler.
CLUSTER_AUTOSCALER_IMAGES: dict[str, str] = {"1.33": "v1.33.6", "1.34": "v1.34.5", "1.35": "v1.35.2"}

# --- cluster add-ons added for issue 14 (cluster helper) ---
# metrics-server community EKS add-on (EKS user guide "View resource usage with the Kubernetes Metrics Server": the
# add-on is named `metrics-server`); v0.8.1-eksbuild.10 is the default build for Kubernetes 1.35 per public EKS 1.35
# configs (Nov 2026), next to kube-proxy v1.35.3-eksbuild.2.
ADDON_METRICS_SERVER = "v0.8.1-eksbuild.10"
# eks-node-monitoring-agent (EKS user guide "node health": the NodeConditions node auto repair acts on). No offline
# AWS source lists its builds (botocore ships no describe-addon-versions data); v1.6.2-eksbuild.1 is pinned on an
# EKS 1.35 cluster in a public config (Dec 2026), next to the coredns v1.13.2-eksbuild.4 and eks-pod-identity-agent
# v1.3.10-eksbuild.2 pinned here; the agent's v1.6.2 tag was published Mar 2026 (aws/eks-node-monitoring-agent).
ADDON_NODE_MONITORING_AGENT = "v1.6.2-eksbuild.1"
# amazon-cloudwatch-observability (Container Insights with enhanced observability; Pod Identity supported from 3.1.0
# per the CloudWatch user guide "Quick start with the Amazon CloudWatch Observability EKS add-on"). v5.4.0-eksbuild.1
# is pinned on Kubernetes 1.35 clusters in public configs; v6.x switches Container Insights to OTel metrics, so the
# classic `ContainerInsights` namespace the failed-node alarm reads stays on the 5.x line.
ADDON_CLOUDWATCH_OBSERVABILITY = "v5.4.0-eksbuild.1"
# AWS Load Balancer Controller: aws/eks-charts stable/aws-load-balancer-controller Chart.yaml version 3.5.0
# (appVersion v3.5.0), identical to kubernetes-sigs/aws-load-balancer-controller tag v3.5.0 helm/; IAM policy from
# docs/install/iam_policy.json at the same tag (see compute/load_balancer_controller_policy.py).
AWS_LOAD_BALANCER_CONTROLLER = ChartPin("aws-load-balancer-controller", "https://aws.github.io/eks-charts", "3.5.0")
