"""What components hand each other: typed references, not whole components, so each is testable alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from . import iam
from .identity import ClusterIdentity


@dataclass(frozen=True)
class NetworkRefs:
    """The VPC a component deploys into (created by `Network`, or an existing one)."""

    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_subnet_ids: Sequence[pulumi.Input[str]] = ()
    availability_zones: Sequence[str] = ()
    s3_gateway_endpoint_id: pulumi.Input[str] | None = None
    """The S3 gateway endpoint (used by exfiltration guards). None when the VPC is not ours."""
    private_route_table_ids: Sequence[pulumi.Input[str]] = ()


@dataclass(frozen=True)
class ClusterRefs:
    """The EKS cluster a component runs on. Kubernetes children use the provider passed in `opts.providers`."""

    name: pulumi.Input[str]
    identity: ClusterIdentity
    cluster_security_group_id: pulumi.Input[str]
    """The EKS-managed security group on the control plane and every managed node: "admits only the cluster"."""
    version: str
    namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Namespaces created by the cluster (team namespaces), by name."""
    oidc_provider_arn: pulumi.Input[str] | None = None
    load_balancer_controller: bool = False
    """The AWS Load Balancer Controller runs, so an Ingress of class `alb` gets an ALB (`cluster.loadBalancerController`)."""
    ingress_dependencies: Sequence[pulumi.Resource] = ()
    """What an `alb` Ingress must wait for: the controller's release, whose Ingress webhooks fail closed (an Ingress
    created before the controller answers is refused). Default: none (a cluster made by another stack)."""
    container_insights: bool = False
    """amazon-cloudwatch-observability runs: Container Insights metrics (e.g. `cluster_failed_node_count`) and its
    `/aws/containerinsights/<cluster>/*` log groups exist (`cluster.containerInsights`)."""
    metrics_server: bool = False
    """metrics-server runs: HorizontalPodAutoscalers get CPU and memory metrics."""
    network_policy_enforced: bool = False
    """The VPC CNI enforces NetworkPolicies (`enableNetworkPolicy`)."""
    service_ipv4_cidr: pulumi.Input[str] | None = None
    """The cluster's Service CIDR (its first address is `kubernetes.default.svc`). Default: None (unknown, e.g. a
    cluster made by another stack; None or "" make egress guards admit the API ClusterIP of both EKS defaults)."""
    storage_classes: Sequence[str] = ()
    """StorageClasses the cluster creates; the first is the default (`gp3`, encrypted)."""
    provider: k8s.Provider | None = None
    """The cluster's Kubernetes provider. Components bind every Kubernetes child to it (never an ambient
    kubeconfig). Default: None (then the provider comes from the caller's `opts.providers`)."""


@dataclass(frozen=True)
class BucketRefs:
    """An S3 bucket a component reads or writes but does not own (e.g. the model registry's artifact bucket, from
    this stack or a StackReference), with the KMS key its objects are encrypted with."""

    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]

    def objects_arn(self, prefix: str = "") -> pulumi.Output[str]:
        return pulumi.Output.concat(self.bucket_arn, "/", f"{prefix.strip('/')}/*" if prefix else "*")

    def read_statements(self, prefix: str = "") -> list[dict[str, Any]]:
        """Least-privilege read of `prefix` (whole bucket by default) and decrypt with the bucket's key.
        ListBucket has no prefix condition for the whole bucket: HeadBucket (which S3 clients send) carries none."""
        list_cond = {"StringLike": {"s3:prefix": [f"{prefix.strip('/')}/*"]}} if prefix else None
        return [
            iam.statement("ListBucket", ["s3:ListBucket"], [self.bucket_arn], conditions=list_cond),
            iam.statement("ReadObjects", ["s3:GetObject", "s3:GetObjectVersion"], [self.objects_arn(prefix)]),
            iam.statement("DecryptObjects", ["kms:Decrypt", "kms:DescribeKey"], [self.kms_key_arn]),
        ]

    def write_statements(self, prefix: str = "") -> list[dict[str, Any]]:
        """Read, plus put/delete objects under `prefix` and encrypt with the bucket's key."""
        return [
            *self.read_statements(prefix),
            iam.statement("WriteObjects", ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"],
                          [self.objects_arn(prefix)]),
            iam.statement("EncryptObjects", ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                                             "kms:ReEncrypt*"], [self.kms_key_arn]),
        ]
