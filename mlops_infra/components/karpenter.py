"""Karpenter provisioning (`gpu.provisioner: karpenter`): the controller with its own workload identity, and per
GPU pool an EC2NodeClass plus a NodePool whose `limits` cap the pool's GPUs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import iam
from ..blocks.helm import PinnedChart, release
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.naming import child, opts
from ..blocks.pod_security import helm_resources
from ..config import versions
from ..config.gpu import GpuPlatformConfig, GpuPoolConfig
from .cluster import SYSTEM_LABEL
from .cluster_nodes import root_device_name
from .refs import ClusterRefs

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"
NODE_CLASS_API = "karpenter.k8s.aws/v1"
NODE_POOL_API = "karpenter.sh/v1"
K8S_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
# EC2 resources Karpenter creates: the request must tag them as owned by this cluster.
CREATED = ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")
USED = ("image", "snapshot", "security-group", "subnet", "capacity-reservation")
DESCRIBE = ("ec2:DescribeAvailabilityZones", "ec2:DescribeCapacityReservations", "ec2:DescribeImages",
            "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes", "ec2:DescribeInstances",
            "ec2:DescribeLaunchTemplates", "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory",
            "ec2:DescribeSubnets", "pricing:GetProducts")


@dataclass(frozen=True)
class KarpenterArgs:
    config: GpuPlatformConfig
    pools: Sequence[GpuPoolConfig]
    cluster: ClusterRefs
    node_role: aws.iam.Role
    """The cluster's node role: EKS already gave it an EC2_LINUX access entry for the system node group."""
    subnet_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    region: str
    tags: dict[str, str]


def controller_statements(args: KarpenterArgs, account: pulumi.Input[str]) -> list[iam.Statement]:
    """Least privilege for the controller. Describe/pricing calls have no resource-level permissions (`*`)."""
    region, name = args.region, args.cluster.name
    ec2: list[pulumi.Input[str]] = [pulumi.Output.format("arn:aws:ec2:{0}:{1}:{2}/*", region, account, kind) for kind in CREATED]
    used: list[pulumi.Input[str]] = [f"arn:aws:ec2:{region}::image/*", f"arn:aws:ec2:{region}::snapshot/*",
            *(pulumi.Output.format("arn:aws:ec2:{0}:{1}:{2}/*", region, account, k) for k in USED[2:])]
    # What Karpenter tags every launch with: its cluster and a NodePool.
    owned: dict[str, dict[str, Any]] = {"StringEquals": {"aws:RequestTag/eks:eks-cluster-name": name},
             "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}
    return [
        iam.statement("Describe", DESCRIBE, ["*"]),
        iam.statement("LaunchFromSharedResources", ["ec2:CreateFleet", "ec2:RunInstances"], used),
        iam.statement("LaunchOwnedResources", ["ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:RunInstances"],
                      ec2, conditions=owned),
        iam.statement("TagOnLaunch", ["ec2:CreateTags"], ec2, conditions={"StringEquals": {
            "ec2:CreateAction": ["CreateFleet", "CreateLaunchTemplate", "RunInstances"]}}),
        iam.statement("TerminateOwnNodes", ["ec2:DeleteLaunchTemplate", "ec2:TerminateInstances"], ec2,
                      conditions={"StringEquals": {"aws:ResourceTag/eks:eks-cluster-name": name},
                                  "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}),
        iam.statement("PassNodeRole", ["iam:PassRole"], [args.node_role.arn],
                      conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        iam.statement("InstanceProfiles", [
            "iam:AddRoleToInstanceProfile", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile",
            "iam:GetInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile"],
            [pulumi.Output.format("arn:aws:iam::{0}:instance-profile/*", account)]),
        iam.statement("DescribeCluster", ["eks:DescribeCluster"],
                      [pulumi.Output.format("arn:aws:eks:{0}:{1}:cluster/{2}", region, account, name)]),
        iam.statement("AmiParameters", ["ssm:GetParameter"], [f"arn:aws:ssm:{region}::parameter/aws/service/*"]),
        iam.statement("EncryptedVolumes", ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
                                           "kms:GenerateDataKeyWithoutPlaintext"], [args.kms_key_arn]),
    ]


def node_class_spec(args: KarpenterArgs, pool: GpuPoolConfig, tags: dict[str, str]) -> dict[str, Any]:
    family = "bottlerocket" if pool.ami_type.startswith("BOTTLEROCKET") else "al2023"
    return {
        "role": args.node_role.name,
        # The alias resolves to the NVIDIA variant for GPU instance types.
        "amiSelectorTerms": [{"alias": f"{family}@{args.config.karpenter_ami_version}"}],
        "subnetSelectorTerms": [{"id": s} for s in args.subnet_ids],
        "securityGroupSelectorTerms": [{"id": args.cluster.cluster_security_group_id}],
        "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                            "httpPutResponseHopLimit": pool.metadata_hop_limit, "httpTokens": "required"},
        "blockDeviceMappings": [{"deviceName": root_device_name(pool.ami_type), "ebs": {
            "volumeSize": f"{pool.root_volume_gib}Gi", "volumeType": "gp3", "encrypted": True,
            "kmsKeyID": args.kms_key_arn, "deleteOnTermination": True}}],
        "tags": tags,
    }


def node_pool_spec(pool: GpuPoolConfig, node_class: str) -> dict[str, Any]:
    requirements = [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": list(pool.instance_types)},
        {"key": "karpenter.sh/capacity-type", "operator": "In",
         "values": ["spot" if pool.capacity_type == "SPOT" else "on-demand"]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": [K8S_ARCH[pool.arch]]},
    ]
    spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class},
        "requirements": requirements, "expireAfter": "720h"}
    if pool.taint is not None:
        spec["taints"] = [{"key": pool.taint.key, "value": pool.taint.value, "effect": pool.taint.k8s_effect}]
    return {
        "template": {"metadata": {"labels": pool.node_labels}, "spec": spec},
        # Empty GPU nodes go quickly; busy ones are never consolidated away from a running job.
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "5m"},
        "limits": {"nvidia.com/gpu": str(pool.total_gpus_at_max)},
    }


class Karpenter(pulumi.ComponentResource):
    """Kubernetes children: the provider comes from the caller's `opts.providers`."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: KarpenterArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:gpu:Karpenter", name, None, opts_)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        identity = WorkloadIdentity(child(name, "controller"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=NAMESPACE, service_account=SERVICE_ACCOUNT, tags=args.tags,
            statements=controller_statements(args, account)), pulumi.ResourceOptions(parent=self))
        self.release = release(
            child(name, "controller"),
            PinnedChart(versions.KARPENTER.chart, versions.KARPENTER.repo, args.config.karpenter_version),
            parent=self, namespace=NAMESPACE, depends_on=[identity],
            values={"settings": {"clusterName": args.cluster.name},
                    "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
                    "replicas": 2, "nodeSelector": dict(SYSTEM_LABEL),
                    "controller": {"resources": helm_resources("1", "1Gi")}})
        for pool in args.pools:
            tags = {**args.tags, "mlops.io/gpu-pool": pool.name}
            meta: k8s.meta.v1.ObjectMetaArgsDict = {"name": pool.name}
            node_class = k8s.apiextensions.CustomResource(
                child(name, f"{pool.name}-class"), api_version=NODE_CLASS_API, kind="EC2NodeClass", metadata=meta,
                spec=node_class_spec(args, pool, tags), opts=opts(self, depends_on=[self.release]))
            k8s.apiextensions.CustomResource(
                child(name, pool.name), api_version=NODE_POOL_API, kind="NodePool", metadata=meta,
                spec=node_pool_spec(pool, pool.name), opts=opts(self, depends_on=[self.release, node_class]))
        self.register_outputs({"roleArn": identity.role_arn})
