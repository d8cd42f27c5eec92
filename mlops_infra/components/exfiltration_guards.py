"""ExfiltrationGuards: data leaves the platform only through paths we name.

- Data buckets deny object access that does not come through the VPC's S3 gateway endpoint, except for break-glass
  roles (`data_bucket_guard`, applied by the components that own the buckets).
- The S3 gateway endpoint's policy allows only the platform's own buckets (to this account's principals) and the
  AWS-owned buckets that nodes need (ECR layers, Amazon Linux repositories, registry.k8s.io layers).
- ML namespaces deny all egress by default, then allow: their own namespace (distributed training), DNS, the
  platform services (feature store, MLflow), and HTTPS to the VPC CIDR (interface endpoints, the private API server).

NetworkPolicy cannot name an AWS prefix list. Traffic through the S3 *gateway* endpoint goes to S3's public
addresses (the `com.amazonaws.<region>.s3` prefix list), not to the VPC CIDR, so pods only reach S3 if
`s3EgressCidrs` lists that prefix list's CIDRs (`aws ec2 get-managed-prefix-list-entries`) or an S3 *interface*
endpoint (in the VPC CIDR) is used instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import iam
from ..blocks.bucket import VpcEndpointGuard
from ..blocks.naming import child, opts
from ..config.security import SecurityBaselineConfig
from .refs import NetworkRefs

NAMESPACE_LABEL = "kubernetes.io/metadata.name"


def aws_owned_bucket_objects(region: str) -> list[str]:
    """Object ARNs of the AWS-owned buckets EKS nodes read through the gateway endpoint (GetObject only).

    - ECR image layers: `prod-<region>-starport-layer-bucket` (Amazon ECR user guide, "Minimum Amazon S3 bucket
      permissions for Amazon ECR").
    - AL2023 package repositories: `al2023-repos-<region>-de612dc2` (Amazon Linux 2023 user guide; AWS MGN notes
      the same bucket for restrictive gateway endpoint policies).
    - registry.k8s.io redirects AWS clients to `prod-registry-k8s-io-<region>` (kubernetes/registry.k8s.io).
    """
    return [
        f"arn:aws:s3:::prod-{region}-starport-layer-bucket/*",
        f"arn:aws:s3:::al2023-repos-{region}-de612dc2/*",
        f"arn:aws:s3:::prod-registry-k8s-io-{region}/*",
    ]


PLATFORM_BUCKET_ACTIONS = [
    "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetBucketLocation", "s3:GetObject", "s3:GetObjectVersion",
    "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:PutObject",
]


def data_bucket_guard(config: SecurityBaselineConfig, network: NetworkRefs) -> VpcEndpointGuard | None:
    """The `vpc_endpoint_guard` for the platform's data buckets, or None when exfiltration guards are off.

    Raises when the guards are on but the VPC has no S3 gateway endpoint: silently unguarded buckets would be worse.
    """
    if not (config.enabled and config.exfiltration_guards):
        return None
    if network.s3_gateway_endpoint_id is None:
        raise ValueError("securityBaseline.exfiltrationGuards needs the VPC's S3 gateway endpoint "
                         "(NetworkRefs.s3_gateway_endpoint_id is None)")
    return VpcEndpointGuard(vpc_endpoint_ids=[network.s3_gateway_endpoint_id],
                            break_glass_role_arns=tuple(config.break_glass_role_arns))


@dataclass(frozen=True)
class ExfiltrationGuardsArgs:
    config: SecurityBaselineConfig
    network: NetworkRefs
    region: str
    platform_bucket_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """Every platform bucket reached from the VPC. Default: none (only AWS-owned buckets pass the endpoint)."""
    ml_namespaces: Sequence[str] = field(default_factory=tuple)
    """Namespaces that get default-deny egress. Default: none."""
    service_namespaces: Sequence[str] = field(default_factory=tuple)
    """Namespaces ML pods may reach on any port (the feature store's, MLflow's). Default: none."""
    namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Namespaces created elsewhere, by name, so policies wait for them. Default: none (plain names)."""


def egress_rules(config: SecurityBaselineConfig, vpc_cidr: str,
                 service_namespaces: Sequence[str]) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict]:
    """The allowlist every ML namespace gets on top of default-deny."""
    https: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = [
        {"ip_block": {"cidr": cidr}} for cidr in [vpc_cidr, *config.s3_egress_cidrs]]
    rules: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] = [
        {"to": [{"pod_selector": {}}]},  # same namespace: rendezvous and NCCL between training pods
        {"to": [{"namespace_selector": {"match_labels": {NAMESPACE_LABEL: "kube-system"}},
                 "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": https, "ports": [{"protocol": "TCP", "port": 443}]},
    ]
    if service_namespaces:
        rules.insert(2, {"to": [{"namespace_selector": {"match_expressions": [
            {"key": NAMESPACE_LABEL, "operator": "In", "values": sorted(service_namespaces)}]}}]})
    return rules


class ExfiltrationGuards(pulumi.ComponentResource):
    def __init__(self, name: str, args: ExfiltrationGuardsArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:ExfiltrationGuards", name, None, opts_)
        network = args.network
        if network.s3_gateway_endpoint_id is None:
            raise ValueError(f"{name}: exfiltration guards need the VPC's S3 gateway endpoint "
                             "(NetworkRefs.s3_gateway_endpoint_id is None)")
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        buckets = list(args.platform_bucket_arns)
        statements: list[iam.Statement] = []
        if buckets:
            statements.append(iam.statement(
                "PlatformBucketsOwnPrincipals", PLATFORM_BUCKET_ACTIONS,
                [*buckets, *(pulumi.Output.concat(arn, "/*") for arn in buckets)], principals={"AWS": "*"},
                conditions={"StringEquals": {"aws:PrincipalAccount": identity.account_id}}))
        statements.append(iam.statement(
            "AwsOwnedBucketsRead", ["s3:GetObject"], aws_owned_bucket_objects(args.region), principals={"AWS": "*"}))
        aws.ec2.VpcEndpointPolicy(
            child(name, "s3-endpoint-policy"), vpc_endpoint_id=network.s3_gateway_endpoint_id,
            policy=iam.document(statements), opts=opts(self))

        rules = egress_rules(args.config, network.vpc_cidr, args.service_namespaces)
        for ns in args.ml_namespaces:
            ref = args.namespaces.get(ns, ns)
            k8s.networking.v1.NetworkPolicy(
                child(name, f"{ns}-deny-egress"),
                metadata={"name": "default-deny-egress", "namespace": ref},
                spec={"pod_selector": {}, "policy_types": ["Egress"]}, opts=opts(self))
            k8s.networking.v1.NetworkPolicy(
                child(name, f"{ns}-allow-egress"),
                metadata={"name": "allow-platform-egress", "namespace": ref},
                spec={"pod_selector": {}, "policy_types": ["Egress"], "egress": rules}, opts=opts(self))
        self.register_outputs({})
