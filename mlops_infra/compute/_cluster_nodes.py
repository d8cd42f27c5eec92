"""What every node group shares: the node IAM role and a hardened launch template (IMDSv2, encrypted gp3 root)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.naming import child, child_options

# The only AWS managed policies nodes need: join the cluster and pull images. The CNI policy goes to the
# vpc-cni add-on's own identity instead of every node (see cluster_addons).
NODE_POLICIES: tuple[str, ...] = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)


def node_role(name: str, parent: pulumi.Resource, tags: dict[str, str],
              attachments: list[pulumi.Resource] | None = None) -> aws.iam.Role:
    """The EC2 role of managed (and Karpenter) nodes. Its policy attachments are appended to `attachments`: node
    groups must depend on them, or `pulumi destroy` detaches the policies while nodes still drain."""
    trust = iam.trust_document([iam.statement("Ec2Nodes", ["sts:AssumeRole"], [],
                                              principals={"Service": "ec2.amazonaws.com"})])
    role = aws.iam.Role(name, assume_role_policy=trust, tags=tags, opts=child_options(parent))
    for policy in NODE_POLICIES:
        attachment = aws.iam.RolePolicyAttachment(child(name, policy.rsplit("/", 1)[-1]), role=role.name,
                                                  policy_arn=policy, opts=child_options(parent))
        if attachments is not None:
            attachments.append(attachment)
    return role


def root_device_name(ami_type: str) -> str:
    """Bottlerocket keeps images and containers on its second (data) volume; AL2023 on the root volume."""
    return "/dev/xvdb" if ami_type.startswith("BOTTLEROCKET") else "/dev/xvda"


def efa_interfaces(network_cards: int, security_group_ids: Sequence[pulumi.Input[str]],
                   ) -> list[aws.ec2.LaunchTemplateNetworkInterfaceArgsDict]:
    """One EFA interface per network card, as AWS recommends in "Maximize network bandwidth on Amazon EC2 instances
    with multiple network cards" (EC2 user guide, efa-acc-inst-types): card 0 / device 0 is an EFA-with-ENA
    interface (the node's IP; an EFA-only interface cannot be primary), every other card gets device index 1 and an
    `efa-only` interface (no IP address: full EFA bandwidth without spending 31 subnet IPs per p5 node, the P5
    "use case 1" layout)."""
    def one(card: int) -> aws.ec2.LaunchTemplateNetworkInterfaceArgsDict:
        return {"network_card_index": card, "device_index": 0 if card == 0 else 1,
                "interface_type": "efa" if card == 0 else "efa-only",
                "security_groups": list(security_group_ids), "delete_on_termination": "true"}
    return [one(card) for card in range(max(network_cards, 1))]


def launch_template(
    name: str,
    parent: pulumi.Resource,
    *,
    ami_type: str,
    volume_gib: int,
    kms_key_arn: pulumi.Input[str],
    tags: dict[str, str],
    hop_limit: int = 1,
    efa_security_group_ids: Sequence[pulumi.Input[str]] = (),
    efa_network_cards: int = 1,
    placement_group: pulumi.Input[str] | None = None,
) -> aws.ec2.LaunchTemplate:
    """IMDSv2 only with hop limit 1 by default: pods cannot reach the node's credentials through IMDS.

    With `efa_security_group_ids`, one EFA interface per network card (`efa_interfaces`); the groups must include
    the cluster security group, because a launch template with interfaces replaces the ones EKS would add.
    """
    ebs: aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgsDict = {
        "volume_size": volume_gib, "volume_type": "gp3", "encrypted": "true", "kms_key_id": kms_key_arn,
        "delete_on_termination": "true", "iops": 3000, "throughput": 250}
    interfaces = efa_interfaces(efa_network_cards, efa_security_group_ids) if efa_security_group_ids else []
    placement: aws.ec2.LaunchTemplatePlacementArgsDict | None = (
        {"group_name": placement_group} if placement_group is not None else None)
    return aws.ec2.LaunchTemplate(
        name,
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                          "http_put_response_hop_limit": hop_limit, "instance_metadata_tags": "disabled"},
        block_device_mappings=[{"device_name": root_device_name(ami_type), "ebs": ebs}],
        network_interfaces=interfaces or None,
        placement=placement,
        monitoring={"enabled": True},
        tag_specifications=[{"resource_type": "instance", "tags": tags}, {"resource_type": "volume", "tags": tags}],
        update_default_version=True,
        tags=tags,
        opts=child_options(parent),
    )


NODE_GROUP_TIMEOUTS = pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create="60m", update="3h"))
"""A managed node group's version update rolls its nodes one at a time (`maxUnavailable` 1), each drained within
PodDisruptionBudgets (EKS waits up to 15 minutes a node before it forces): a system group of 5 and GPU pools of up to
12 nodes outlast the provider's 60-minute update default, and Pulumi would report a failure while EKS goes on."""
