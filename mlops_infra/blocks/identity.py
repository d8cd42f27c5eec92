"""Workload identity: an IAM role bound to one Kubernetes ServiceAccount through IRSA or EKS Pod Identity.

The IRSA trust is scoped to exactly `system:serviceaccount:<ns>:<sa>` (`:sub`) and `sts.amazonaws.com` (`:aud`).
The Pod Identity trust is scoped the same way through the session tags EKS Pod Identity passes when it assumes the
role (`sts:TagSession`): `aws:RequestTag/eks-cluster-name`, `aws:RequestTag/kubernetes-namespace` and
`aws:RequestTag/kubernetes-service-account` (EKS user guide, "Create IAM role with trust policy required by EKS Pod
Identity" and "Enable or disable session tags"). Without them, any association in the account could assume the role.
An association with `disableSessionTags` would send no tags and be refused, so the associations here never set it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import iam
from .naming import child, child_options

IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


@dataclass(frozen=True)
class ClusterIdentity:
    """What a workload identity needs from the cluster it runs on."""

    cluster_name: pulumi.Input[str]
    mode: Literal["irsa", "podIdentity"]
    oidc_provider_arn: pulumi.Input[str] | None = None
    """IAM OIDC provider ARN (irsa)."""
    oidc_issuer: pulumi.Input[str] | None = None
    """Issuer host and path without `https://` (irsa), e.g. `oidc.eks.us-east-1.amazonaws.com/id/ABC`."""


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    cluster: ClusterIdentity
    namespace: pulumi.Input[str]
    service_account: str
    tags: dict[str, str]
    statements: Sequence[iam.Statement | pulumi.Output[iam.Statement]] = field(default_factory=tuple)
    """The role's permissions. Default: none (add grants later)."""
    automount_token: bool = False
    """Mount the Kubernetes API token. Default: false (AWS credentials come from a separate projected token)."""


def irsa_trust(cluster: ClusterIdentity, namespace: pulumi.Input[str], service_account: str) -> pulumi.Output[str]:
    """Trust exactly one ServiceAccount: the issuer's `:sub` and `:aud` condition keys are built from outputs."""

    def build(provider_arn: str, issuer: str, ns: str) -> iam.Statement:
        return iam.statement(
            "IrsaServiceAccount", ["sts:AssumeRoleWithWebIdentity"], [],
            principals={"Federated": provider_arn},
            conditions={"StringEquals": {
                f"{issuer}:sub": f"system:serviceaccount:{ns}:{service_account}",
                f"{issuer}:aud": "sts.amazonaws.com",
            }},
        )

    stmt = pulumi.Output.all(cluster.oidc_provider_arn, cluster.oidc_issuer, namespace).apply(
        lambda a: build(str(a[0]), str(a[1]), str(a[2])))
    return iam.trust_document([stmt])


POD_IDENTITY_TAGS = ("eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account")
"""Session tags EKS Pod Identity sets on the role session (EKS user guide, "List of session tags added by EKS Pod
Identity"), in the order of the values `pod_identity_trust` pins."""


def pod_identity_trust(cluster: ClusterIdentity, namespace: pulumi.Input[str],
                       service_account: str) -> pulumi.Output[str]:
    """Trust EKS Pod Identity for exactly one association: this cluster, namespace and ServiceAccount."""

    def build(cluster_name: str, ns: str) -> iam.Statement:
        values = (cluster_name, ns, service_account)
        return iam.statement(
            "EksPodIdentity", ["sts:AssumeRole", "sts:TagSession"], [],
            principals={"Service": "pods.eks.amazonaws.com"},
            conditions={"StringEquals": {f"aws:RequestTag/{tag}": value
                                         for tag, value in zip(POD_IDENTITY_TAGS, values, strict=True)}})

    stmt = pulumi.Output.all(cluster.cluster_name, namespace).apply(lambda a: build(str(a[0]), str(a[1])))
    return iam.trust_document([stmt])


class WorkloadIdentity(pulumi.ComponentResource):
    """An IAM role a Kubernetes service account assumes (IRSA or EKS Pod Identity), trust scoped to its `sub` and
    `aud`."""
    role: aws.iam.Role
    role_arn: pulumi.Output[str]
    service_account_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Its ServiceAccount inherits the cluster's provider from the component it is part of (bound with
        # `ClusterRefs.bind`): `cluster` here is the identity only.
        super().__init__("mlops:blocks:WorkloadIdentity", name, None, opts)
        cluster = args.cluster
        if cluster.mode == "irsa":
            if cluster.oidc_provider_arn is None or cluster.oidc_issuer is None:
                raise ValueError(f"{name}: irsa needs the cluster's OIDC provider ARN and issuer")
            trust = irsa_trust(cluster, args.namespace, args.service_account)
        else:
            trust = pod_identity_trust(cluster, args.namespace, args.service_account)
        self.role = aws.iam.Role(child(name, "role"), assume_role_policy=trust, tags=args.tags, opts=child_options(self))
        if args.statements:
            aws.iam.RolePolicy(child(name, "policy"), role=self.role.id,
                               policy=iam.document(list(args.statements)), opts=child_options(self))
        annotations = {IRSA_ROLE_ANNOTATION: self.role.arn} if cluster.mode == "irsa" else {}
        sa = k8s.core.v1.ServiceAccount(
            child(name, "sa"),
            metadata={"name": args.service_account, "namespace": args.namespace, "annotations": annotations},
            automount_service_account_token=args.automount_token,
            opts=child_options(self),
        )
        if cluster.mode == "podIdentity":
            aws.eks.PodIdentityAssociation(
                child(name, "pod-identity"), cluster_name=cluster.cluster_name, namespace=args.namespace,
                service_account=args.service_account, role_arn=self.role.arn, tags=args.tags, opts=child_options(self))
        self.role_arn = self.role.arn
        self.service_account_name = sa.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
        self.register_outputs({"roleArn": self.role_arn, "serviceAccountName": self.service_account_name})
