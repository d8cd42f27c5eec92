"""GpuNodePool: one EKS managed node group of GPU instances that scales to zero and back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks.naming import child, child_options, retyped
from ..blocks.refs import ClusterRefs, NetworkRefs, NodeRefs
from . import _cluster_nodes as cluster_nodes
from .cluster_autoscaler import CLUSTER_TAG_PREFIX, ENABLED_TAG
from .gpu_config import GpuPoolConfig

CA_TEMPLATE = "k8s.io/cluster-autoscaler/node-template"


def autoscaler_tags(pool: GpuPoolConfig) -> dict[str, str]:
    """Node-template tags on the Auto Scaling group: what a node *would* look like, so the cluster autoscaler can
    scale a pool up from zero nodes (it cannot read labels, taints or GPUs from a node that does not exist)."""
    tags = {f"{CA_TEMPLATE}/label/{k}": v for k, v in sorted(pool.node_labels.items())}
    tags[f"{CA_TEMPLATE}/resources/nvidia.com/gpu"] = str(pool.min_gpus_per_node)
    if pool.efa:  # the EFA device plugin advertises one vpc.amazonaws.com/efa device per EFA interface
        tags[f"{CA_TEMPLATE}/resources/vpc.amazonaws.com/efa"] = str(pool.efa_network_cards)
    if pool.taint is not None:
        tags[f"{CA_TEMPLATE}/taint/{pool.taint.key}"] = f"{pool.taint.value}:{pool.taint.k8s_effect}"
    return tags


@dataclass(frozen=True)
class GpuNodePoolArgs:
    config: GpuPoolConfig
    cluster: ClusterRefs
    """The cluster the pool joins: its name, and its security group (put on EFA interfaces: a launch template with
    interfaces replaces the groups EKS would attach)."""
    network: NetworkRefs
    """Its private subnets (a list, or one output of a list, e.g. a StackReference's). An EFA pool uses only the
    first: a cluster placement group lives in one AZ."""
    nodes: NodeRefs
    """The node role (and its policy attachments, which the node group depends on) and the root volumes' key."""
    tags: dict[str, str]
    kubernetes_version: pulumi.Input[str] | None = None
    """The node group's Kubernetes version, e.g. another stack's `clusterVersion` output when `cluster.version` is
    only a stand-in. Default: `cluster.version`."""


class GpuNodePool(pulumi.ComponentResource):
    """A managed node group of GPU instances on an existing cluster (taints, labels, launch template, autoscaler
    tags)."""
    node_group: aws.eks.NodeGroup

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:compute:GpuNodePool", name, None,
                         retyped(opts, "mlops:gpu:GpuNodePool"))
        pool, tags = args.config, {**args.tags, "mlops.io/gpu-pool": args.config.name}
        placement = None
        subnets: pulumi.Input[Sequence[pulumi.Input[str]]] = args.network.private_subnet_ids
        if pool.efa:
            placement = aws.ec2.PlacementGroup(child(name, "placement"), strategy="cluster", tags=tags,
                                               opts=child_options(self)).name
            subnets = pulumi.Output.from_input(args.network.private_subnet_ids).apply(lambda ids: list(ids)[:1])
        template = cluster_nodes.launch_template(
            child(name, "lt"), self, ami_type=pool.ami_type, volume_gib=pool.root_volume_gib,
            kms_key_arn=args.nodes.volume_key_arn, tags=tags, hop_limit=pool.metadata_hop_limit,
            efa_security_group_ids=[args.cluster.cluster_security_group_id] if pool.efa else (),
            efa_network_cards=pool.efa_network_cards, placement_group=placement)
        taints: list[aws.eks.NodeGroupTaintArgsDict] = []
        if pool.taint is not None:
            taints.append({"key": pool.taint.key, "value": pool.taint.value, "effect": pool.taint.effect})
        self.node_group = aws.eks.NodeGroup(
            name, cluster_name=args.cluster.name, node_role_arn=args.nodes.role_arn, subnet_ids=subnets,
            instance_types=list(pool.instance_types), capacity_type=pool.capacity_type, ami_type=pool.ami_type,
            # The cluster's version: EKS then picks this version's AMI for the amiType (the launch template sets no
            # image_id) and an upgrade of cluster.version rolls the pool in the same `pulumi up`.
            version=args.kubernetes_version if args.kubernetes_version is not None else args.cluster.version,
            scaling_config={"min_size": pool.min_size, "desired_size": pool.effective_desired_size,
                            "max_size": pool.max_size},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=pool.node_labels, taints=taints or None,
            update_config={"max_unavailable": 1}, node_repair_config={"enabled": pool.node_repair},
            tags=tags,
            # The cluster autoscaler owns the desired size; `pulumi up` must not reset it.
            opts=pulumi.ResourceOptions.merge(
                child_options(self, ignore_changes=["scalingConfig.desiredSize"],
                              depends_on=list(args.nodes.role_policies)),
                cluster_nodes.NODE_GROUP_TIMEOUTS))
        asg = self.node_group.resources.apply(
            lambda r: str(r[0].autoscaling_groups[0].name) if r and r[0].autoscaling_groups else "")
        for key, value in autoscaler_tags(pool).items():
            aws.autoscaling.Tag(
                child(name, key.removeprefix(f"{CA_TEMPLATE}/").replace("/", "-")), autoscaling_group_name=asg,
                tag={"key": key, "value": value, "propagate_at_launch": False}, opts=child_options(self))
        # Discovery tags: EKS itself writes `k8s.io/cluster-autoscaler/enabled=true` and `.../<cluster>=owned` on every
        # managed node group's Auto Scaling group (EKS user guide, "Managed node groups"), so these resources only
        # upsert EKS's own tags. Released stacks hold them, so dropping them from the program would make the next
        # `pulumi up` delete them, and deleting an `aws.autoscaling.Tag` removes the tag from the group: EKS's tag
        # would go and the autoscaler would silently stop discovering the pool. They stay, retained on delete:
        # removing one (or the pool's rename) forgets it in the state and leaves the group's tag alone.
        discovery: list[tuple[str, pulumi.Input[str], str]] = [
            ("ca-enabled", ENABLED_TAG, "true"),
            ("ca-cluster", pulumi.Output.concat(CLUSTER_TAG_PREFIX, args.cluster.name), "owned")]
        for suffix, tag_key, tag_value in discovery:
            aws.autoscaling.Tag(child(name, suffix), autoscaling_group_name=asg,
                                tag={"key": tag_key, "value": tag_value, "propagate_at_launch": False},
                                opts=pulumi.ResourceOptions.merge(child_options(self),
                                                                  pulumi.ResourceOptions(retain_on_delete=True)))
        self.register_outputs({"nodeGroupName": self.node_group.node_group_name})
