"""EKS managed add-ons, pinned, each AWS-calling add-on with its own workload identity (IRSA or Pod Identity)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks.identity import ClusterIdentity, irsa_trust, pod_identity_trust
from ..blocks.naming import child, opts
from ..config.cluster import AddonVersions

NAMESPACE = "kube-system"


@dataclass(frozen=True)
class AddonIdentity:
    """The AWS permissions an add-on's ServiceAccount gets (an AWS managed policy scoped to that add-on)."""

    service_account: str
    policy_arn: str


VPC_CNI = AddonIdentity("aws-node", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")
EBS_CSI = AddonIdentity("ebs-csi-controller-sa", "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy")


def _identity_role(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, identity: AddonIdentity,
                   tags: dict[str, str]) -> aws.iam.Role:
    trust = (irsa_trust(cluster, NAMESPACE, identity.service_account) if cluster.mode == "irsa"
             else pod_identity_trust())
    role = aws.iam.Role(name, assume_role_policy=trust, tags=tags, opts=opts(parent))
    aws.iam.RolePolicyAttachment(name, role=role.name, policy_arn=identity.policy_arn, opts=opts(parent))
    return role


def _addon(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, addon: str, version: str,
           tags: dict[str, str], *, identity: AddonIdentity | None = None,
           depends_on: Sequence[pulumi.Resource] = ()) -> aws.eks.Addon:
    role = _identity_role(child(name, "role"), parent, cluster, identity, tags) if identity else None
    irsa = role is not None and cluster.mode == "irsa"
    associations: list[aws.eks.AddonPodIdentityAssociationArgsDict] | None = None
    if role is not None and not irsa:
        associations = [{"role_arn": role.arn, "service_account": identity.service_account}] if identity else None
    return aws.eks.Addon(
        name, cluster_name=cluster.cluster_name, addon_name=addon, addon_version=version,
        resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="PRESERVE",
        service_account_role_arn=role.arn if irsa and role is not None else None,
        pod_identity_associations=associations, tags=tags, opts=opts(parent, depends_on=depends_on))


def before_nodes(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, versions: AddonVersions,
                 tags: dict[str, str]) -> list[aws.eks.Addon]:
    """Networking and the Pod Identity agent: nodes only become Ready once these exist."""
    agent = _addon(child(name, "eks-pod-identity-agent"), parent, cluster, "eks-pod-identity-agent",
                   versions.pod_identity_agent, tags)
    return [
        agent,
        _addon(child(name, "vpc-cni"), parent, cluster, "vpc-cni", versions.vpc_cni, tags, identity=VPC_CNI,
               depends_on=[agent]),
        _addon(child(name, "kube-proxy"), parent, cluster, "kube-proxy", versions.kube_proxy, tags),
    ]


def after_nodes(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, versions: AddonVersions,
                tags: dict[str, str], nodes: Sequence[pulumi.Resource]) -> list[aws.eks.Addon]:
    """Add-ons with Deployments: they wait for the system nodes, or their creation times out as degraded."""
    return [
        _addon(child(name, "coredns"), parent, cluster, "coredns", versions.coredns, tags, depends_on=nodes),
        _addon(child(name, "aws-ebs-csi-driver"), parent, cluster, "aws-ebs-csi-driver", versions.ebs_csi_driver,
               tags, identity=EBS_CSI, depends_on=nodes),
    ]
