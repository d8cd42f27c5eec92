"""EKS managed add-ons, pinned, each AWS-calling add-on with its own workload identity (IRSA or Pod Identity).

Every add-on depends on its role's policy attachments, so `pulumi destroy` removes the add-on (whose pods still
call AWS while they drain) before it removes their permissions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.identity import ClusterIdentity, irsa_trust, pod_identity_trust
from ..blocks.kms import ebs_csi_statements
from ..blocks.naming import bounded_name, child, child_options, name_within
from .config import AddonVersions

NAMESPACE = "kube-system"
IAM_ROLE_NAME_LIMIT = 64  # IAM CreateRole RoleName
IAM_ROLE_NAME_PREFIX_LIMIT = IAM_ROLE_NAME_LIMIT - 26  # pulumi-aws `name_prefix` appends 26 unique characters


@dataclass(frozen=True)
class AddonIdentity:
    """The AWS permissions an add-on's ServiceAccount gets (an AWS managed policy scoped to that add-on)."""

    service_account: str
    policy_arn: str
    namespace: str = NAMESPACE
    """Namespace of the ServiceAccount. Default: kube-system."""
    statements: Sequence[iam.Statement] = field(default_factory=tuple)
    """Inline statements beyond the managed policy (e.g. the StorageClass key for the EBS CSI driver). Default: none."""


VPC_CNI = AddonIdentity("aws-node", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")
EBS_CSI = AddonIdentity("ebs-csi-controller-sa", "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy")
# The CloudWatch agent of amazon-cloudwatch-observability runs as amazon-cloudwatch/cloudwatch-agent (CloudWatch user
# guide, "Install the CloudWatch agent with the Amazon CloudWatch Observability EKS add-on": CloudWatchAgentServerPolicy).
CLOUDWATCH_AGENT = AddonIdentity("cloudwatch-agent", "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
                                 namespace="amazon-cloudwatch")

VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}
"""vpc-cni add-on `configurationValues`: the chart's `enableNetworkPolicy` (aws/eks-charts stable/aws-vpc-cni
values.yaml, default "false", a string in the add-on schema) turns on the network policy controller and the node
agent's enforcement (`nodeAgent.enabled` already defaults to true). Without it NetworkPolicies are stored, not enforced."""


CLOUDWATCH_OBSERVABILITY_CONFIGURATION = {
    "agent": {"config": {"logs": {"metrics_collected": {"kubernetes": {
        "enhanced_container_insights": True, "accelerated_compute_metrics": False}}}}}}
"""amazon-cloudwatch-observability `configurationValues`. The add-on's operator deploys its own DcgmExporter (and
NeuronMonitor) DaemonSet on GPU nodes unless the agent config says `accelerated_compute_metrics: false`: a missing
flag means on (aws/amazon-cloudwatch-agent-operator controllers/common.go `enabledAcceleratedComputeByAgentConfig`;
CloudWatch user guide, "opt out of collecting accelerated compute metrics"). The platform runs its own dcgm-exporter
(observability/core.py) with the counters its alerts use, so a second DCGM exporter per GPU node would only
duplicate scrapes. `agent.config` replaces the chart's `agent.defaultConfig` (aws-observability/helm-charts
values.yaml), so it names what stays on: enhanced Container Insights (`cluster_failed_node_count` and the rest);
Application Signals, which the platform does not use, is off."""

NODE_MONITORING_AGENT_CONFIGURATION = {"dcgmAgent": {"tolerations": [{"operator": "Exists"}]}}
"""eks-node-monitoring-agent `configurationValues`. The chart (aws/eks-node-monitoring-agent v1.6.2
charts/eks-node-monitoring-agent values.yaml) gives the agent DaemonSet `nodeAgent.tolerations: [{operator: Exists}]`
but its `dcgm-server` DaemonSet `dcgmAgent.tolerations: []`, so on a tainted GPU node (`nvidia.com/gpu:NoSchedule`
and any pool taint) DCGM never runs, the agent reports DCGMError and node auto repair replaces healthy GPU nodes
(aws/containers-roadmap #2567, #2555). `dcgmAgent.tolerations` (an array of objects) is in the add-on's configuration
schema at that tag (charts/configuration.schema.json, `DCGMAgent`). It tolerates every taint like the agent does:
the chart's node affinity already keeps dcgm-server on NVIDIA instance types, and a pool taint is free-form config."""


@dataclass(frozen=True)
class AddonRole:
    role: aws.iam.Role
    policies: list[pulumi.Resource]
    """The attachments and inline policies: whatever uses the role depends on these."""


def _identity_role(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, identity: AddonIdentity,
                   tags: dict[str, str], role_name: str | None = None) -> AddonRole:
    trust = (irsa_trust(cluster, identity.namespace, identity.service_account) if cluster.mode == "irsa"
             else pod_identity_trust(cluster, identity.namespace, identity.service_account))
    # IAM role names are at most 64 characters and account-wide; `<cluster>-addon-amazon-cloudwatch-observability-role`
    # plus the auto-name's 8 is over that in staging and prod. Those get a `name_prefix` that fits (the provider adds
    # a unique suffix), never a fixed name: a second copy of the stack in the same account (another Region) would
    # fail CreateRole with EntityAlreadyExists. Released as a fixed name: the role is replaced once unless the stack
    # opts in to keep it (`role_name`, cluster.containerInsightsRoleName; docs/upgrades.md).
    too_long = name_within(name, IAM_ROLE_NAME_LIMIT) is not None
    prefix = bounded_name(name, IAM_ROLE_NAME_PREFIX_LIMIT) if too_long and role_name is None else None
    role = aws.iam.Role(name, name=role_name, name_prefix=prefix, assume_role_policy=trust, tags=tags,
                        opts=child_options(parent))
    policies: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(name, role=role.name, policy_arn=identity.policy_arn, opts=child_options(parent))]
    if identity.statements:
        policies.append(aws.iam.RolePolicy(child(name, "inline"), role=role.id,
                                           policy=iam.document(list(identity.statements)), opts=child_options(parent)))
    return AddonRole(role, policies)


def _addon(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, addon: str, version: str,
           tags: dict[str, str], *, identity: AddonIdentity | None = None,
           depends_on: Sequence[pulumi.Resource] = (), configuration: Mapping[str, object] | None = None,
           role_name: str | None = None) -> aws.eks.Addon:
    role = _identity_role(child(name, "role"), parent, cluster, identity, tags, role_name) if identity else None
    irsa = role is not None and cluster.mode == "irsa"
    associations: list[aws.eks.AddonPodIdentityAssociationArgsDict] | None = None
    if role is not None and identity is not None and not irsa:
        associations = [{"role_arn": role.role.arn, "service_account": identity.service_account}]
    return aws.eks.Addon(
        name, cluster_name=cluster.cluster_name, addon_name=addon, addon_version=version,
        resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="PRESERVE",
        service_account_role_arn=role.role.arn if irsa and role is not None else None,
        pod_identity_associations=associations,
        configuration_values=json.dumps(dict(configuration), sort_keys=True) if configuration else None, tags=tags,
        opts=child_options(parent, depends_on=[*depends_on, *(role.policies if role else [])]))


def before_nodes(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, versions: AddonVersions,
                 tags: dict[str, str]) -> list[aws.eks.Addon]:
    """Networking and the Pod Identity agent: nodes only become Ready once these exist."""
    agent = _addon(child(name, "eks-pod-identity-agent"), parent, cluster, "eks-pod-identity-agent",
                   versions.pod_identity_agent, tags)
    return [
        agent,
        _addon(child(name, "vpc-cni"), parent, cluster, "vpc-cni", versions.vpc_cni, tags, identity=VPC_CNI,
               depends_on=[agent], configuration=VPC_CNI_CONFIGURATION),
        _addon(child(name, "kube-proxy"), parent, cluster, "kube-proxy", versions.kube_proxy, tags),
    ]


def after_nodes(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, versions: AddonVersions,
                tags: dict[str, str], nodes: Sequence[pulumi.Resource], *,
                storage_key_arn: pulumi.Input[str]) -> list[aws.eks.Addon]:
    """Add-ons with Deployments: they wait for the system nodes, or their creation times out as degraded.

    The EBS CSI role may use `storage_key_arn`, the key the encrypted StorageClass names (see `storage`).
    """
    ebs = AddonIdentity(EBS_CSI.service_account, EBS_CSI.policy_arn, statements=ebs_csi_statements(storage_key_arn))
    return [
        _addon(child(name, "coredns"), parent, cluster, "coredns", versions.coredns, tags, depends_on=nodes),
        _addon(child(name, "aws-ebs-csi-driver"), parent, cluster, "aws-ebs-csi-driver", versions.ebs_csi_driver,
               tags, identity=ebs, depends_on=nodes),
        # metrics.k8s.io for HorizontalPodAutoscalers and `kubectl top` (EKS does not preinstall it).
        _addon(child(name, "metrics-server"), parent, cluster, "metrics-server", versions.metrics_server, tags,
               depends_on=nodes),
        # Node auto repair (on for the system group, default for GPU pools) acts on the NodeConditions this agent
        # reports; without it only NotReady nodes are repaired (EKS user guide, "node health").
        _addon(child(name, "eks-node-monitoring-agent"), parent, cluster, "eks-node-monitoring-agent",
               versions.node_monitoring_agent, tags, depends_on=nodes,
               configuration=NODE_MONITORING_AGENT_CONFIGURATION),
    ]


def container_insights(name: str, parent: pulumi.Resource, cluster: ClusterIdentity, versions: AddonVersions,
                       tags: dict[str, str], depends_on: Sequence[pulumi.Resource], *,
                       role_name: str | None = None) -> aws.eks.Addon:
    """amazon-cloudwatch-observability: the CloudWatch agent (Container Insights metrics, e.g.
    `cluster_failed_node_count`) and Fluent Bit. `depends_on` must hold its log groups: the agent creates any group
    that is missing, unencrypted and kept forever, and then the platform's own LogGroup would fail as existing.
    `role_name`: the agent role's explicit name (a stack released with it keeps it), else an auto-name or prefix."""
    return _addon(child(name, "amazon-cloudwatch-observability"), parent, cluster, "amazon-cloudwatch-observability",
                  versions.cloudwatch_observability, tags, identity=CLOUDWATCH_AGENT, depends_on=depends_on,
                  configuration=CLOUDWATCH_OBSERVABILITY_CONFIGURATION, role_name=role_name)
