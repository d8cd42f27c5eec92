"""Karpenter provisioning (`gpu.provisioner: karpenter`, or alone on another stack's cluster): the controller with
its own workload identity, and per GPU pool an EC2NodeClass plus a NodePool whose `limits` cap the pool's GPUs."""

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
from ..blocks.naming import child, child_options, retyped
from ..blocks.pod_security import helm_resources
from ..blocks.refs import ClusterRefs, NetworkRefs, NodeRefs
from ..config import versions
from ._cluster_nodes import root_device_name
from ._karpenter_interruption import controller_statement, interruption_queue
from .cluster import SYSTEM_LABEL
from .gpu_config import GpuPlatformConfig, GpuPoolConfig

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"
NODE_CLASS_API = "karpenter.k8s.aws/v1"
NODE_POOL_API = "karpenter.sh/v1"
K8S_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
# Karpenter v1.9.0 controller policy: website/content/en/docs/getting-started/getting-started-with-karpenter/
# cloudformation.yaml at tag v1.9.0 (KarpenterControllerPolicy), mirrored statement by statement below.
# EC2 resources Karpenter creates: the request must tag them as owned by this cluster.
CREATED = ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")
USED = ("image", "snapshot", "security-group", "subnet", "capacity-reservation")
DESCRIBE = ("ec2:DescribeAvailabilityZones", "ec2:DescribeCapacityReservations", "ec2:DescribeImages",
            "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes", "ec2:DescribeInstances",
            "ec2:DescribeLaunchTemplates", "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory",
            "ec2:DescribeSubnets")
# Tags Karpenter adds to a running instance after launch (AllowScopedResourceTagging's aws:TagKeys).
POST_LAUNCH_TAG_KEYS = ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]


@dataclass(frozen=True)
class KarpenterArgs:
    config: GpuPlatformConfig
    pools: Sequence[GpuPoolConfig]
    cluster: ClusterRefs
    """The cluster: its name, identity and security group (put on every node Karpenter launches)."""
    network: NetworkRefs
    """Its private subnets, where the nodes launch (a list, or one output of a list, e.g. a StackReference's)."""
    nodes: NodeRefs
    """The nodes' role (`TrainingCluster.node_refs`, or `NodeRefs.from_stack_outputs(ref)`: the platform's
    `nodeRoleArn`), whose policy attachments the node classes depend on, and the key of their volumes."""
    region: str
    tags: dict[str, str]
    node_access_entry: bool = False
    """Create the EKS access entry (type EC2_LINUX) that lets `nodes.role_arn` join the cluster. Default: false, for
    the cluster's own node role (EKS made its entry with the system node group); true for a role of your own the
    cluster does not admit yet (without an entry its nodes never register, and Karpenter replaces them)."""


def _arns(partition: str, region: str, account: str, kinds: Sequence[str]) -> list[str]:
    return [f"arn:{partition}:ec2:{region}:{account}:{kind}/*" for kind in kinds]


def _ec2_statements(partition: str, region: str, account: str, name: str) -> list[iam.Statement]:
    """Launch, tag and terminate only what carries this cluster's ownership tags (`kubernetes.io/cluster/<name>`,
    `eks:eks-cluster-name`, a NodePool), as Karpenter's own policy does."""
    owned = f"kubernetes.io/cluster/{name}"
    request = {f"aws:RequestTag/{owned}": "owned", "aws:RequestTag/eks:eks-cluster-name": name}
    resource = {"StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}
    nodepool = {"aws:RequestTag/karpenter.sh/nodepool": "*"}
    created = _arns(partition, region, account, CREATED)
    return [
        iam.statement("LaunchFromSharedResources", ["ec2:CreateFleet", "ec2:RunInstances"],
                      [f"arn:{partition}:ec2:{region}::image/*", f"arn:{partition}:ec2:{region}::snapshot/*",
                       *_arns(partition, region, account, USED[2:])]),
        iam.statement("LaunchFromOwnLaunchTemplates", ["ec2:CreateFleet", "ec2:RunInstances"],
                      _arns(partition, region, account, ["launch-template"]), conditions=resource),
        iam.statement("LaunchOwnedResources", ["ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:RunInstances"],
                      [*created, *_arns(partition, region, account, ["capacity-reservation"])],
                      conditions={"StringEquals": request, "StringLike": nodepool}),
        iam.statement("TagOnLaunch", ["ec2:CreateTags"], created, conditions={
            "StringEquals": {**request, "ec2:CreateAction": ["CreateFleet", "CreateLaunchTemplate", "RunInstances"]},
            "StringLike": nodepool}),
        # After launch Karpenter names the instance and records its NodeClaim: only those keys, only on its nodes.
        iam.statement("TagOwnNodesAfterLaunch", ["ec2:CreateTags"], _arns(partition, region, account, ["instance"]),
                      conditions={
            **resource, "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": name},
            "ForAllValues:StringEquals": {"aws:TagKeys": POST_LAUNCH_TAG_KEYS}}),
        iam.statement("TerminateOwnNodes", ["ec2:DeleteLaunchTemplate", "ec2:TerminateInstances"],
                      _arns(partition, region, account, ["instance", "launch-template"]), conditions=resource),
    ]


def _instance_profile_statements(partition: str, region: str, account: str, name: str) -> list[iam.Statement]:
    """Instance profiles Karpenter creates for its EC2NodeClasses carry the cluster, region and node class tags;
    only those can be created, tagged, changed or deleted. `iam:ListInstanceProfiles` (no resource scoping: it only
    lists) is what the EC2NodeClass finalizer calls to find its profiles (pkg/providers/instanceprofile
    ListNodeClassProfiles, v1.9.0): without it the finalizer errors forever and `pulumi destroy` hangs."""
    profiles = [f"arn:{partition}:iam::{account}:instance-profile/*"]
    owned = f"kubernetes.io/cluster/{name}"
    tagged = {f"aws:ResourceTag/{owned}": "owned", "aws:ResourceTag/topology.kubernetes.io/region": region}
    request = {f"aws:RequestTag/{owned}": "owned", "aws:RequestTag/eks:eks-cluster-name": name,
               "aws:RequestTag/topology.kubernetes.io/region": region}
    return [
        iam.statement("CreateOwnInstanceProfiles", ["iam:CreateInstanceProfile"], profiles, conditions={
            "StringEquals": request, "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
        iam.statement("TagOwnInstanceProfiles", ["iam:TagInstanceProfile"], profiles, conditions={
            "StringEquals": {**tagged, **request},
            "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                           "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
        iam.statement("ManageOwnInstanceProfiles", [
            "iam:AddRoleToInstanceProfile", "iam:DeleteInstanceProfile", "iam:RemoveRoleFromInstanceProfile"],
            profiles, conditions={"StringEquals": tagged,
                                  "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
        iam.statement("ReadInstanceProfiles", ["iam:GetInstanceProfile"], profiles),
        iam.statement("ListInstanceProfiles", ["iam:ListInstanceProfiles"], ["*"]),
    ]


def controller_statements(args: KarpenterArgs, account: pulumi.Input[str], partition: pulumi.Input[str] = "aws",
                          queue_arn: pulumi.Input[str] | None = None,
                          ) -> list[iam.Statement | pulumi.Output[iam.Statement]]:
    """Least privilege for the controller. Describe/pricing calls have no resource-level permissions (`*`).
    Condition keys carry the cluster name, so the statements resolve once the name and account are known."""
    region = args.region

    def build(name: str, acct: str, part: str) -> list[iam.Statement]:
        return [
            iam.statement("Describe", DESCRIBE, ["*"], conditions={"StringEquals": {"aws:RequestedRegion": region}}),
            # The Price List API answers only in us-east-1 (and a few others): no region condition, as upstream.
            iam.statement("Pricing", ["pricing:GetProducts"], ["*"]),
            *_ec2_statements(part, region, acct, name), *_instance_profile_statements(part, region, acct, name),
            iam.statement("DescribeCluster", ["eks:DescribeCluster"], [f"arn:{part}:eks:{region}:{acct}:cluster/{name}"]),
            iam.statement("AmiParameters", ["ssm:GetParameter"], [f"arn:{part}:ssm:{region}::parameter/aws/service/*"]),
        ]

    def pick(i: int) -> pulumi.Output[iam.Statement]:
        return pulumi.Output.all(args.cluster.name, account, partition).apply(
            lambda a: build(str(a[0]), str(a[1]), str(a[2]))[i])

    return [
        *(pick(i) for i in range(len(build("", "", "aws")))),
        iam.statement("PassNodeRole", ["iam:PassRole"], [args.nodes.role_arn],
                      conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        iam.statement("EncryptedVolumes", ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
                                           "kms:GenerateDataKeyWithoutPlaintext"], [args.nodes.volume_key_arn]),
        *([controller_statement(queue_arn)] if queue_arn is not None else []),
    ]


def node_class_spec(args: KarpenterArgs, pool: GpuPoolConfig, tags: dict[str, str]) -> dict[str, Any]:
    bottlerocket = pool.ami_type.startswith("BOTTLEROCKET")
    family, version = (("bottlerocket", args.config.karpenter_bottlerocket_ami_version) if bottlerocket
                       else ("al2023", args.config.karpenter_ami_version))
    ebs = {"volumeType": "gp3", "encrypted": True, "kmsKeyID": args.nodes.volume_key_arn, "deleteOnTermination": True}
    # Bottlerocket boots from its own OS volume (/dev/xvda, 4Gi in Karpenter's defaults: pkg/providers/amifamily/
    # bottlerocket.go v1.9.0): listed too, or it would take the AMI snapshot's encryption instead of the cluster key.
    os_volume = [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "4Gi", **ebs}}] if bottlerocket else []
    return {
        # The role the controller may pass (`PassNodeRole`): its name, from the same ARN.
        "role": args.nodes.role_name,
        # The alias resolves to the NVIDIA variant for GPU instance types.
        "amiSelectorTerms": [{"alias": f"{family}@{version}"}],
        "subnetSelectorTerms": pulumi.Output.from_input(args.network.private_subnet_ids).apply(
            lambda ids: [{"id": s} for s in ids]),
        "securityGroupSelectorTerms": [{"id": args.cluster.cluster_security_group_id}],
        "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                            "httpPutResponseHopLimit": pool.metadata_hop_limit, "httpTokens": "required"},
        "blockDeviceMappings": [*os_volume, {"deviceName": root_device_name(pool.ami_type), "ebs": {
            "volumeSize": f"{pool.root_volume_gib}Gi", **ebs}}],
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
    """Karpenter on a cluster, this stack's or another's (refs only: `ClusterRefs`, `NetworkRefs`, `NodeRefs`).
    Kubernetes children bind through `args.cluster.bind(opts)`.

    A cluster runs one Karpenter (`claim`). Beside the Cluster Autoscaler it is allowed: the two act on different
    nodes. The autoscaler resizes the Auto Scaling groups it discovers by their `k8s.io/cluster-autoscaler/*` tags
    and skips a node in no such group ("no node group config": NotAutoscaled); Karpenter launches single instances
    through CreateFleet, in no Auto Scaling group, and disrupts only the nodes of its own NodeClaims. A pending pod
    both could serve (no pool selector, a toleration of both pools' taints) may get a node from each; the one left
    empty goes (consolidation or scale-down). Select a pool by its label (`mlops.io/gpu-pool`) to avoid that."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        claim(args.cluster, "karpenter", name)  # a cluster runs one: refused when it already does
        super().__init__("mlops:compute:Karpenter", name, None,
                         retyped(args.cluster.bind(opts), "mlops:gpu:Karpenter"))
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        queue = interruption_queue(name, self, args.tags)
        identity = WorkloadIdentity(child(name, "controller"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=NAMESPACE, service_account=SERVICE_ACCOUNT, tags=args.tags,
            statements=controller_statements(args, account, partition, queue.arn)), pulumi.ResourceOptions(parent=self))
        self.release = release(
            child(name, "controller"),
            PinnedChart(versions.KARPENTER.chart, versions.KARPENTER.repo, args.config.karpenter_version),
            parent=self, namespace=NAMESPACE, depends_on=[identity],
            values={"settings": {"clusterName": args.cluster.name, "interruptionQueue": queue.name},
                    "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
                    "replicas": 2, "nodeSelector": dict(SYSTEM_LABEL),
                    "controller": {"resources": helm_resources("1", "1Gi")}})
        access: list[pulumi.Resource] = [aws.eks.AccessEntry(
            child(name, "nodes"), cluster_name=args.cluster.name, principal_arn=args.nodes.role_arn, type="EC2_LINUX",
            tags=args.tags, opts=child_options(self))] if args.node_access_entry else []
        for pool in args.pools:
            tags = {**args.tags, "mlops.io/gpu-pool": pool.name}
            meta: k8s.meta.v1.ObjectMetaArgsDict = {"name": pool.name}
            node_class = k8s.apiextensions.CustomResource(
                child(name, f"{pool.name}-class"), api_version=NODE_CLASS_API, kind="EC2NodeClass", metadata=meta,
                spec=node_class_spec(args, pool, tags),
                opts=child_options(self, depends_on=[self.release, *args.nodes.role_policies, *access]))
            k8s.apiextensions.CustomResource(
                child(name, pool.name), api_version=NODE_POOL_API, kind="NodePool", metadata=meta,
                spec=node_pool_spec(pool, pool.name), opts=child_options(self, depends_on=[self.release, node_class]))
        self.register_outputs({"roleArn": identity.role_arn})
