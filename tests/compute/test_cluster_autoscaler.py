"""The cluster autoscaler: every managed node group that can change size is discovered by an autoscaler whose role
may scale it; the autoscaler's minor matches the cluster's; it runs hardened on the system nodes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.compute.cluster_autoscaler import CLUSTER_TAG_PREFIX, ENABLED_TAG, image_tag
from mlops_infra.config.versions import CLUSTER_AUTOSCALER, SUPPORTED_EKS_VERSIONS
from mlops_infra.plan import Inventory, ResourceRecord
from tests import iam_eval, system_capacity
from tests.conftest import PROGRAMS, planned

COMPUTE = PROGRAMS / "compute"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASG_TAG = "aws:autoscaling/tag:Tag"
RELEASE = "kubernetes:helm.sh/v3:Release"
ACCOUNT = "123456789012"


def plan(stack: str) -> Inventory:
    program, _, name = stack.partition(":")
    return planned(name, COMPUTE) if program == "compute" else planned(name)


def eks_asg_tags(cluster: str, node_group: str) -> dict[str, str]:
    """What EKS itself writes on a managed node group's Auto Scaling group ("Amazon EKS tags managed node group
    resources so that they are configured to use the Kubernetes Cluster Autoscaler", EKS user guide; values as
    read from `aws autoscaling describe-tags` on a managed node group). Node group `tags` are NOT copied."""
    return {"eks:cluster-name": cluster, "eks:nodegroup-name": node_group,
            ENABLED_TAG: "true", f"{CLUSTER_TAG_PREFIX}{cluster}": "owned"}


def asg_tags(inv: Inventory, ng: ResourceRecord) -> dict[str, str]:
    """The Auto Scaling group's tags at runtime: EKS's own plus every `aws.autoscaling.Tag` on that group."""
    ours = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in inv.of_type(ASG_TAG)
            if ng.urn in t.property_dependencies.get("autoscalingGroupName", [])}
    return {**eks_asg_tags(ng.inputs["clusterName"], ng.name), **ours}


def autoscaler(inv: Inventory) -> tuple[ResourceRecord, list[Any]]:
    """The cluster-autoscaler release and the identity policies of the role its ServiceAccount assumes."""
    (ca,) = [r for r in inv.of_type(RELEASE) if r.inputs["chart"] == CLUSTER_AUTOSCALER.chart]
    sa_name = ca.inputs["values"]["rbac"]["serviceAccount"]["name"]
    (sa,) = [s for s in inv.of_type("kubernetes:core/v1:ServiceAccount")
             if s.inputs["metadata"]["name"] == sa_name and s.inputs["metadata"]["namespace"] == ca.inputs["namespace"]]
    identity = inv.component_of(sa)
    assert identity is not None
    roles = [r for r in inv.children(identity.urn) if r.type == "aws:iam/role:Role"]
    policies = [json.loads(p.inputs["policy"]) for p in inv.children(identity.urn)
                if p.type == "aws:iam/rolePolicy:RolePolicy"]
    assert len(roles) == 1 and policies
    return ca, policies


def asg_arn(region: str, name: str) -> str:
    return f"arn:aws:autoscaling:{region}:{ACCOUNT}:autoScalingGroup:0f1e2d3c-uuid:autoScalingGroupName/{name}"


def scalable_groups(inv: Inventory) -> list[ResourceRecord]:
    return [ng for ng in inv.of_type(NODE_GROUP)
            if ng.inputs["scalingConfig"]["minSize"] < ng.inputs["scalingConfig"]["maxSize"]]


@pytest.mark.parametrize("stack", ["root:dev", "root:staging", "root:prod", "compute:prod", "compute:karpenter"])
def test_every_scalable_managed_node_group_is_discovered_and_scalable_by_the_autoscaler(stack: str) -> None:
    inv = plan(stack)
    groups = scalable_groups(inv)
    assert groups, "every stack has at least the system node group (2..4 nodes)"
    ca, policies = autoscaler(inv)
    values = ca.inputs["values"]
    region = values["awsRegion"]
    assert values["cloudProvider"] == "aws"
    for ng in groups:
        tags = asg_tags(inv, ng)
        # --node-group-auto-discovery=asg:tag=k1[=v1],k2[=v2]: the group must carry every key (and value if given).
        for wanted in values["autoDiscovery"]["tags"]:
            key, _, value = wanted.partition("=")
            assert key in tags and (not value or tags[key] == value), (ng.name, wanted, tags)
        context = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
        for action in ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"):
            assert iam_eval.allows(policies, action, asg_arn(region, f"eks-{ng.name}"), context), (ng.name, action)
        assert iam_eval.allows(policies, "eks:DescribeNodegroup",
                               f"arn:aws:eks:{region}:{ACCOUNT}:nodegroup/{ng.inputs['clusterName']}/{ng.name}/uuid")
    for action in ("autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                   "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstanceTypes"):
        assert iam_eval.allows(policies, action, "*"), action


def test_the_autoscaler_cannot_scale_another_clusters_groups() -> None:
    inv = plan("compute:prod")
    _, policies = autoscaler(inv)
    other = {f"aws:ResourceTag/{k}": v for k, v in eks_asg_tags("someone-else", "ng").items()}
    for action in ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"):
        assert not iam_eval.allows(policies, action, asg_arn("us-east-1", "eks-other"), other)
        assert not iam_eval.allows(policies, action, asg_arn("us-east-1", "eks-untagged"), {})


def test_pulumi_never_deletes_the_discovery_tags_eks_owns() -> None:
    """EKS owns the discovery tags on a managed node group's Auto Scaling group (`eks_asg_tags`). Deleting an
    `aws.autoscaling.Tag` removes that key from the group, so a Pulumi resource for one of EKS's keys must be
    retained on delete: otherwise dropping or renaming a pool's tag resource would hide live pools from the
    autoscaler. The node-template tags (EKS does not write them) are ours to delete."""
    inv = plan("compute:prod")
    pools = [ng for ng in inv.of_type(NODE_GROUP) if "mlops.io/gpu-pool" in ng.inputs["labels"]]
    assert pools
    for ng in pools:
        eks_keys = set(eks_asg_tags(ng.inputs["clusterName"], ng.name))
        ours = [t for t in inv.of_type(ASG_TAG) if ng.urn in t.property_dependencies.get("autoscalingGroupName", [])]
        assert any(t.inputs["tag"]["key"].startswith("k8s.io/cluster-autoscaler/node-template/") for t in ours)
        for t in ours:
            if t.inputs["tag"]["key"] in eks_keys:
                assert t.options.get("retainOnDelete") is True, (ng.name, t.name)
                assert t.inputs["tag"]["value"] == eks_asg_tags(ng.inputs["clusterName"], ng.name)[t.inputs["tag"]["key"]]


@pytest.mark.parametrize("stack", ["root:prod", "compute:dev", "compute:karpenter"])
def test_autoscaler_image_minor_equals_the_clusters_kubernetes_minor(stack: str) -> None:
    inv = plan(stack)
    (cluster,) = inv.of_type("aws:eks/cluster:Cluster")
    ca, _ = autoscaler(inv)
    image = ca.inputs["values"]["image"]
    assert image["repository"] == "registry.k8s.io/autoscaling/cluster-autoscaler"
    assert image["tag"].removeprefix("v").rsplit(".", 1)[0] == cluster.inputs["version"]
    assert ca.inputs["version"] == CLUSTER_AUTOSCALER.version
    assert ca.inputs["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}


@pytest.mark.parametrize("version", SUPPORTED_EKS_VERSIONS)
def test_every_supported_kubernetes_version_has_an_autoscaler_of_the_same_minor(version: str) -> None:
    assert image_tag(version).removeprefix("v").rsplit(".", 1)[0] == version


def test_autoscaler_runs_hardened_on_system_nodes_with_its_own_token() -> None:
    inv = plan("root:prod")
    ca, _ = autoscaler(inv)
    values = ca.inputs["values"]
    assert values["nodeSelector"] == {"mlops.io/node-role": "system"}
    assert values["resources"]["requests"] == values["resources"]["limits"]
    assert values["securityContext"]["runAsNonRoot"] is True
    ctx = values["containerSecurityContext"]
    assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["allowPrivilegeEscalation"] is False
    assert ctx["readOnlyRootFilesystem"] is True
    (sa,) = [s for s in inv.of_type("kubernetes:core/v1:ServiceAccount")
             if s.inputs["metadata"]["name"] == values["rbac"]["serviceAccount"]["name"]]
    # it watches pods and nodes: the API token must be mounted (the chart sets no automount of its own)
    assert sa.inputs["automountServiceAccountToken"] is True
    assert values["rbac"] == {"create": True, "serviceAccount": {"create": False, "name": "cluster-autoscaler"}}


def test_no_autoscaler_when_no_managed_node_group_can_scale() -> None:
    inv = plan("compute:fixed")
    assert not scalable_groups(inv)
    assert not [r for r in inv.of_type(RELEASE) if r.inputs["chart"] == CLUSTER_AUTOSCALER.chart]


def system_group(inv: Inventory) -> ResourceRecord:
    (ng,) = [n for n in inv.of_type(NODE_GROUP) if n.inputs["labels"].get("mlops.io/node-role") == "system"]
    return ng


@pytest.mark.parametrize("render", [False, True], ids=["modelled", "rendered"])
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_system_node_group_allocatable_covers_the_requests_of_the_pods_it_must_run(stack: str, render: bool) -> None:
    """Sum of the requests of every pod that can only land on system nodes (tests/system_capacity.py names the
    source of each number) against the allocatable CPU, memory and pod slots of the system node group: at
    minSize with one rolling-update surge pod, and at maxSize with every HPA at its maximum. `rendered`: each
    release whose chart is in this machine's store counts its rendered pods' real requests instead of the model."""
    inv = planned(stack, render=render)
    if render and not inv.rendered():
        pytest.skip("chart store on this machine is empty (tools/vendor_charts_*.sh)")
    ng = system_group(inv)
    scaling = ng.inputs["scalingConfig"]
    (instance_type,) = ng.inputs["instanceTypes"]
    node = system_capacity.allocatable(instance_type)
    base, daemons = system_capacity.system_demand(inv)
    peak, _ = system_capacity.system_demand(inv, peak=True)
    largest = max((system_capacity.pod(s) for s, _ in system_capacity.pod_specs(inv, False)),
                  key=lambda d: d.cpu_m)
    for nodes, demand in ((scaling["minSize"], base + largest), (scaling["maxSize"], peak)):
        need, have = demand + daemons.times(nodes), node.times(nodes)
        assert need.cpu_m <= have.cpu_m, f"{stack}: {nodes} x {instance_type}: {need.cpu_m}m CPU > {have.cpu_m}m"
        assert need.memory_mib <= have.memory_mib, f"{stack}: {need.memory_mib}Mi > {have.memory_mib}Mi"
        assert need.pods <= have.pods, f"{stack}: {need.pods} pods > {have.pods} pod slots"
    # the largest single pod fits on one node beside that node's DaemonSets
    assert largest.cpu_m + daemons.cpu_m <= node.cpu_m and largest.memory_mib + daemons.memory_mib <= node.memory_mib


def test_two_m7i_large_nodes_could_not_hold_the_prod_platform() -> None:
    """The review's estimate, measured: the old default (2 x m7i.large) is short of CPU for prod's own pods."""
    inv = planned("prod")
    base, daemons = system_capacity.system_demand(inv)
    old = system_capacity.allocatable("m7i.large").times(2)
    assert (base + daemons.times(2)).cpu_m > old.cpu_m


def test_controller_policies_name_arns_in_the_stacks_partition() -> None:
    """In GovCloud (the plan's getPartition answers `aws-us-gov` for us-gov-* regions, as AWS does) every ARN the
    autoscaler, Karpenter and Load Balancer Controller policies name is in that partition: an `arn:aws:` ARN there
    matches nothing, so the controllers would be denied every scoped call."""
    inv = planned("govcloud", COMPUTE)
    wanted = ("mlops-staging-autoscaler-", "mlops-staging-karpenter-", "mlops-staging-lb-controller-")
    policies = [p for p in inv.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(wanted)]
    assert len(policies) == 3, [p.name for p in inv.of_type("aws:iam/rolePolicy:RolePolicy")]
    arns = [r for p in policies for s in json.loads(p.inputs["policy"])["Statement"]
            for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]) if r != "*"]
    assert arns and all(r.startswith("arn:aws-us-gov:") for r in arns), [r for r in arns if "aws-us-gov" not in r]


def test_a_stack_adopting_the_accounts_detector_counts_the_guardduty_agent() -> None:
    """staging adopts prod's detector (`guarddutyDetector: existing`): GuardDuty's automated agent management is
    account-wide, so the agent DaemonSet runs on staging's nodes although staging declares no detector feature."""
    inv = planned("staging")
    assert not inv.of_type("aws:guardduty/detectorFeature:DetectorFeature"), "premise: staging has no features"
    assert system_capacity.adopts_guardduty_detector(inv) and system_capacity.guardduty_agent(inv)
    assert not system_capacity.adopts_guardduty_detector(planned("prod")), "prod owns its detector"
