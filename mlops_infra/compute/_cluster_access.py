"""Cluster access: the IRSA OIDC provider and API-mode access entries for the admin roles in config."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from ..blocks.naming import child, child_options

ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def oidc_provider(name: str, parent: pulumi.Resource, issuer_url: pulumi.Input[str],
                  tags: dict[str, str]) -> aws.iam.OpenIdConnectProvider:
    """The IAM OIDC provider for IRSA. No thumbprint: IAM verifies EKS issuers with its own trusted CAs."""
    return aws.iam.OpenIdConnectProvider(name, url=issuer_url, client_id_lists=["sts.amazonaws.com"], tags=tags,
                                         opts=child_options(parent))


def admin_access(name: str, parent: pulumi.Resource, cluster_name: pulumi.Input[str],
                 role_arns: Sequence[str], tags: dict[str, str]) -> list[aws.eks.AccessPolicyAssociation]:
    """One access entry + cluster-admin policy association per role. Child names use the role's name, so reordering
    the list never replaces an entry."""
    associations = []
    for arn in role_arns:
        role = arn.rsplit("/", 1)[-1].lower()
        entry = aws.eks.AccessEntry(child(name, role), cluster_name=cluster_name, principal_arn=arn, type="STANDARD",
                                    tags=tags, opts=child_options(parent))
        associations.append(aws.eks.AccessPolicyAssociation(
            child(name, f"{role}-admin"), cluster_name=cluster_name, principal_arn=entry.principal_arn,
            policy_arn=ADMIN_POLICY, access_scope={"type": "cluster"}, opts=child_options(parent)))
    return associations
