"""ClusterAutoscaler: scales the EKS managed node groups (GPU pools from zero, the system group) on pending pods.

Sources read at the pinned versions:
- chart values: kubernetes/autoscaler `charts/cluster-autoscaler/values.yaml` at tag cluster-autoscaler-chart-9.59.0
  (the deployment renders `--node-group-auto-discovery=asg:tag=<autoDiscovery.tags joined by ,>`);
- IAM: `cluster-autoscaler/cloudprovider/aws/README.md` at tag cluster-autoscaler-1.35.2 ("Full Cluster Autoscaler
  Features Policy": describe actions on `*`, and SetDesiredCapacity/TerminateInstanceInAutoScalingGroup restricted
  "using tag based conditionals"); `eks:DescribeNodegroup` lets it read labels and taints of a group at zero nodes.
- EKS tags every managed node group's Auto Scaling group for the autoscaler (`k8s.io/cluster-autoscaler/enabled`,
  `k8s.io/cluster-autoscaler/<cluster>`: EKS user guide, managed node groups). GPU pools also set both tags
  themselves (`gpu_pool.py`), with the values the IAM condition below expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import iam
from ..blocks.cluster_add_ons import claim
from ..blocks.helm import PinnedChart, release
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.naming import child, retyped
from ..blocks.pod_security import helm_container_security_context, helm_pod_security_context, helm_resources
from ..blocks.refs import ClusterRefs
from ..config import versions
from .cluster import SYSTEM_LABEL
from .config import SystemNodesConfig
from .gpu_config import GpuPlatformConfig, GpuPoolConfig, autoscaler_needed

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"
IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"
CLUSTER_TAG_PREFIX = "k8s.io/cluster-autoscaler/"
DESCRIBE = ("autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
            "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
            "ec2:GetInstanceTypesFromInstanceRequirements")
SCALE = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")
# What the autoscaler asks of a system node (AWS's example deployment: 100m / 600Mi).
SYSTEM_REQUESTS = ("100m", "600Mi")


def cluster_tag(cluster_name: str) -> str:
    return f"{CLUSTER_TAG_PREFIX}{cluster_name}"


def image_tag(kubernetes_version: str) -> str:
    """The autoscaler release whose minor equals the cluster's (the autoscaler supports only its own minor)."""
    return versions.CLUSTER_AUTOSCALER_IMAGES[kubernetes_version]


def needed(system_nodes: SystemNodesConfig, gpu: GpuPlatformConfig, pools: Sequence[GpuPoolConfig]) -> bool:
    """True when some managed node group can change size (`gpu_config.autoscaler_needed`, which config reads)."""
    return autoscaler_needed((system_nodes.min_size, system_nodes.max_size), gpu, pools)


@dataclass(frozen=True)
class ClusterAutoscalerArgs:
    cluster: ClusterRefs
    region: str
    tags: dict[str, str]
    chart_version: str = versions.CLUSTER_AUTOSCALER.version
    """cluster-autoscaler chart version. Default: versions.CLUSTER_AUTOSCALER (9.59.0)."""


def statements(region: str, account: pulumi.Input[str], cluster_name: pulumi.Input[str],
               partition: pulumi.Input[str] = "aws") -> list[iam.Statement | pulumi.Output[iam.Statement]]:
    """Describe calls have no resource-level permissions (`*`); scaling is limited to Auto Scaling groups tagged
    `k8s.io/cluster-autoscaler/<cluster>=owned`, and node group reads to this cluster's node groups."""
    scale = pulumi.Output.all(cluster_name, account, partition).apply(lambda a: iam.statement(
        "ScaleOwnedGroups", SCALE,
        [f"arn:{a[2]}:autoscaling:{region}:{a[1]}:autoScalingGroup:*:autoScalingGroupName/*"],
        conditions={"StringEquals": {f"aws:ResourceTag/{cluster_tag(str(a[0]))}": "owned"}}))
    return [
        iam.statement("Describe", DESCRIBE, ["*"]),
        scale,
        iam.statement("DescribeOwnNodegroups", ["eks:DescribeNodegroup"], [pulumi.Output.format(
            "arn:{3}:eks:{0}:{1}:nodegroup/{2}/*/*", region, account, cluster_name, partition)]),
    ]


def values(args: ClusterAutoscalerArgs) -> dict[str, Any]:
    name = args.cluster.name
    return {
        "cloudProvider": "aws", "awsRegion": args.region,
        "autoDiscovery": {"clusterName": name,
                          "tags": [ENABLED_TAG, pulumi.Output.concat(CLUSTER_TAG_PREFIX, name)]},
        "image": {"repository": IMAGE, "tag": image_tag(args.cluster.version)},
        # Our WorkloadIdentity creates the ServiceAccount (IRSA annotation or Pod Identity association);
        # the chart binds its ClusterRole/Role to that name.
        "rbac": {"create": True, "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT}},
        "replicaCount": 1,
        "extraArgs": {"logtostderr": True, "stderrthreshold": "info", "v": 2, "expander": "least-waste",
                      "balance-similar-node-groups": True, "skip-nodes-with-system-pods": False},
        # It must not evict itself while scaling its own node down (AWS EKS guide).
        "podAnnotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
        "nodeSelector": dict(SYSTEM_LABEL),
        "resources": helm_resources(*SYSTEM_REQUESTS),
        "securityContext": helm_pod_security_context(),
        "containerSecurityContext": helm_container_security_context(),
    }


class ClusterAutoscaler(pulumi.ComponentResource):
    """Kubernetes children: the provider comes from the caller's `opts.providers`."""

    release: k8s.helm.v3.Release
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        claim(args.cluster, "clusterAutoscaler", name)  # a cluster runs one: refused when it already does
        super().__init__("mlops:compute:ClusterAutoscaler", name, None,
                         retyped(args.cluster.bind(opts), "mlops:gpu:ClusterAutoscaler"))
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        identity = WorkloadIdentity(child(name, "controller"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=NAMESPACE, service_account=SERVICE_ACCOUNT, tags=args.tags,
            # The autoscaler watches pods and nodes: it needs its Kubernetes API token.
            automount_token=True,
            statements=statements(args.region, account, args.cluster.name, partition)), pulumi.ResourceOptions(parent=self))
        self.release = release(
            child(name, "controller"),
            PinnedChart(versions.CLUSTER_AUTOSCALER.chart, versions.CLUSTER_AUTOSCALER.repo, args.chart_version),
            parent=self, namespace=NAMESPACE, depends_on=[identity], values=values(args))
        self.role_arn = identity.role_arn
        self.register_outputs({"roleArn": self.role_arn})
