"""What components hand each other: typed references, not whole components, so each is testable alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

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
