"""What components hand each other: typed references, not whole components, so each is testable alone.

Network and cluster refs accept `pulumi.Input[...]` everywhere, so another stack's outputs work
(`NetworkRefs.from_stack_outputs`, `ClusterRefs.from_stack_outputs`). Components never count, iterate or index
an Input: resource counts come from config, never from a ref's value (`known_len` tells what is known now).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..outputs import CONTRACT
from . import iam
from .grants import Grant, Grants
from .identity import ClusterIdentity

StringList = pulumi.Input[Sequence[pulumi.Input[str]]]
"""A list of ids: a plain list, or an Output of one (e.g. a StackReference output)."""


def known_len(values: StringList) -> int | None:
    """How many `values` there are, when that is known while the program runs (a plain list); None for an
    Output or an awaitable."""
    return len(values) if isinstance(values, Sequence) else None


def _output_key(attr: str) -> str:
    """The platform's output name for a contract attribute (`mlops_infra.outputs.CONTRACT`)."""
    return CONTRACT[attr].output


@dataclass(frozen=True)
class NetworkRefs:
    """The VPC a component deploys into (created by `Network`, an existing one, or another stack's)."""

    vpc_id: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    private_subnet_ids: StringList
    public_subnet_ids: StringList = ()
    availability_zones: Sequence[str] = ()
    s3_gateway_endpoint_id: pulumi.Input[str] | None = None
    """The S3 gateway endpoint (used by exfiltration guards). None when the VPC is not ours."""
    private_route_table_ids: StringList = ()
    owns_endpoints: bool = True
    """The endpoints are this stack's: it may write their policies. False for a VPC made elsewhere, whose shared
    endpoints other workloads use (a policy written there would replace theirs, and pulumi-aws resets it to full
    access on destroy)."""

    @classmethod
    def existing(cls, vpc_id: pulumi.Input[str], vpc_cidr: pulumi.Input[str], private_subnet_ids: StringList,
                 *, s3_gateway_endpoint_id: pulumi.Input[str] | None = None) -> NetworkRefs:
        """A VPC made elsewhere (another tool, or a look-up). Private subnets only: data stores never go public."""
        return cls(vpc_id=vpc_id, vpc_cidr=vpc_cidr, private_subnet_ids=private_subnet_ids,
                   s3_gateway_endpoint_id=s3_gateway_endpoint_id, owns_endpoints=False)

    @classmethod
    def from_stack_outputs(cls, ref: pulumi.StackReference) -> NetworkRefs:
        """The platform stack's VPC, read through its output contract (`mlops_infra.outputs.CONTRACT`)."""
        return cls.existing(
            vpc_id=ref.require_output(_output_key("vpc_id")),
            vpc_cidr=ref.require_output(_output_key("vpc_cidr")),
            private_subnet_ids=ref.require_output(_output_key("private_subnet_ids")))


@dataclass(frozen=True)
class ClusterRefs:
    """The EKS cluster a component runs on. Components bind their Kubernetes children to `provider`."""

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

    def bind(self, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions | None:
        """A component's `opts` with the cluster's provider for `kubernetes`: every child inherits it."""
        return bind_kubernetes(opts, self.provider)

    @classmethod
    def existing(
            cls, name: pulumi.Input[str], *, security_group_id: pulumi.Input[str], version: str,
            workload_identity: Literal["irsa", "podIdentity"] = "irsa",
            oidc_provider_arn: pulumi.Input[str] | None = None, oidc_issuer: pulumi.Input[str] | None = None,
            kubeconfig: pulumi.Input[str] | None = None, provider: k8s.Provider | None = None,
            provider_name: str | None = None, **features: Any) -> ClusterRefs:
        """A cluster made elsewhere. Its provider: `provider`, or one built from `kubeconfig` (named
        `provider_name`, default `<name>-k8s` when `name` is a plain string). `features`: the other fields
        (e.g. `network_policy_enforced=True`, `load_balancer_controller=True`) for what the cluster runs."""
        if provider is None and kubeconfig is None:
            raise ValueError("ClusterRefs.existing needs a kubeconfig or a Kubernetes provider")
        if provider is None:
            if provider_name is None and not isinstance(name, str):
                raise ValueError("ClusterRefs.existing: pass provider_name when the cluster name is an Output")
            provider = k8s.Provider(provider_name or f"{name}-k8s", kubeconfig=kubeconfig)
        identity = ClusterIdentity(cluster_name=name, mode=workload_identity, oidc_provider_arn=oidc_provider_arn,
                                   oidc_issuer=oidc_issuer)
        return cls(name=name, identity=identity, cluster_security_group_id=security_group_id, version=version,
                   oidc_provider_arn=oidc_provider_arn, provider=provider, **features)

    @classmethod
    def from_stack_outputs(cls, ref: pulumi.StackReference, provider: k8s.Provider | None = None, *,
                           version: str, workload_identity: Literal["irsa", "podIdentity"] = "irsa",
                           provider_name: str = "platform-cluster", **features: Any) -> ClusterRefs:
        """The platform stack's cluster, read through its output contract. `workload_identity` and `version` are
        the consumer's config (they decide which resources exist, so they cannot wait for an output); the
        provider is `provider`, or one named `provider_name` built from the stack's `kubeconfig` output."""
        irsa = workload_identity == "irsa"
        return cls.existing(
            ref.require_output(_output_key("cluster_name")),
            security_group_id=ref.require_output(_output_key("cluster_security_group_id")), version=version,
            workload_identity=workload_identity,
            oidc_provider_arn=ref.require_output(_output_key("oidc_provider_arn")) if irsa else None,
            oidc_issuer=ref.require_output(_output_key("oidc_issuer")) if irsa else None,
            kubeconfig=ref.require_output(_output_key("kubeconfig")), provider=provider, provider_name=provider_name,
            **features)


def bind_kubernetes(opts: pulumi.ResourceOptions | None,
                    provider: pulumi.ProviderResource | None) -> pulumi.ResourceOptions | None:
    """`opts` plus `providers={"kubernetes": provider}` (None: `opts` unchanged). Passed to a component's
    `super().__init__`, so every Kubernetes child, however deep, binds to the cluster's provider."""
    if provider is None:
        return opts
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers={"kubernetes": provider}))


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

    def grant_read(self, grants: Grants, principal: aws.iam.Role, prefix: str = "", *, grant: str = "read") -> Grant:
        """`read_statements(prefix)` as the managed policy `<owner>-<grant>[-<prefix>]-policy` of `grants` (the
        granting component's registry, e.g. `Grants(self, name)`), attached to `principal` once. Name `grant`
        apart (e.g. `artifacts-read`) when one owner grants reads of several buckets."""
        return grants.grant(principal, grant + prefix_suffix(prefix), lambda: self.read_statements(prefix))

    def grant_write(self, grants: Grants, principal: aws.iam.Role, prefix: str = "", *, grant: str = "write") -> Grant:
        """`write_statements(prefix)` granted like `grant_read`. Idempotent per principal."""
        return grants.grant(principal, grant + prefix_suffix(prefix), lambda: self.write_statements(prefix))


def prefix_suffix(prefix: str) -> str:
    """`""` for the whole bucket (the released names), else `-<prefix with / as ->`."""
    slug = prefix.strip("/").replace("/", "-")
    return f"-{slug}" if slug else ""
