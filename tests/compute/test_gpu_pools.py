"""GPU node pools (managed node groups and Karpenter), GPU software releases, and GPU pool validation."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_infra.config import ConfigError
from mlops_infra.config.instances import GPU_FAMILIES, GPU_INSTANCES, family_of
from mlops_infra.config.versions import DEVICE_PLUGIN, EFA_PLUGIN, GPU_OPERATOR, KARPENTER
from mlops_infra.plan import Inventory
from mlops_infra.platform.loader import load_platform_config
from tests import iam_eval
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS, PROGRAMS, planned
from tests.nonempty import each

COMPUTE = PROGRAMS / "compute"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", COMPUTE)


@pytest.fixture(scope="module")
def karpenter() -> Inventory:
    return planned("karpenter", COMPUTE)


def gpu_groups(inv: Inventory) -> dict[str, Any]:
    return {r.inputs["labels"]["mlops.io/gpu-pool"]: r for r in inv.of_type(NODE_GROUP)
            if "mlops.io/gpu-pool" in r.inputs.get("labels", {})}


def test_prod_has_one_node_group_per_pool_with_nvidia_ami_taint_and_scale_to_zero(prod: Inventory) -> None:
    groups = gpu_groups(prod)
    assert sorted(groups) == ["od-g6e", "od-p5", "spot-g6"]
    for ng in each(groups.values()):
        assert ng.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert ng.inputs["scalingConfig"]["minSize"] == 0
        assert ng.options["ignoreChanges"] == ["scalingConfig.desiredSize"]
    assert groups["od-p5"].inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert groups["spot-g6"].inputs["taints"] == [{"key": "mlops.io/spot-gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert groups["spot-g6"].inputs["capacityType"] == "SPOT"
    assert groups["spot-g6"].inputs["instanceTypes"] == ["g6.4xlarge", "g6.8xlarge", "g5.4xlarge"]
    assert groups["od-g6e"].inputs["labels"] == {"mlops.io/gpu-pool": "od-g6e", "mlops.io/gpu-type": "l40s",
                                                 "nvidia.com/gpu.present": "true",
                                                 "k8s.amazonaws.com/accelerator": "l40s"}
    assert groups["spot-g6"].inputs["labels"]["mlops.io/gpu-type"] == "mixed"


def launch_template(inv: Inventory, ng: Any) -> Any:
    (urn,) = ng.property_dependencies["launchTemplate"]
    return inv.by_urn()[urn]


def test_launch_templates_require_imdsv2_and_encrypt_a_gp3_root(prod: Inventory) -> None:
    for pool, ng in each(gpu_groups(prod).items()):
        lt = launch_template(prod, ng)
        assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
        assert lt.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        (bdm,) = lt.inputs["blockDeviceMappings"]
        assert bdm["deviceName"] == "/dev/xvda"
        assert (bdm["ebs"]["volumeType"], bdm["ebs"]["encrypted"]) == ("gp3", "true")
        assert bdm["ebs"]["volumeSize"] == (200 if pool == "od-g6e" else 100)
        assert bdm["ebs"]["kmsKeyId"].startswith("arn:aws:kms:")


def ec2_instance_types(*names: str) -> dict[str, dict[str, Any]]:
    """EC2 DescribeInstanceTypes through boto3, answered by moto from its recorded AWS catalogue."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        if names:
            found = ec2.describe_instance_types(InstanceTypes=list(names))["InstanceTypes"]
        else:
            found = [t for page in ec2.get_paginator("describe_instance_types").paginate() for t in page["InstanceTypes"]]
    return {t["InstanceType"]: t for t in found}


def test_efa_pool_gets_a_placement_group_one_efa_interface_per_network_card_and_one_subnet(prod: Inventory) -> None:
    groups = gpu_groups(prod)
    lt = launch_template(prod, groups["od-p5"])
    (pg,) = prod.of_type("aws:ec2/placementGroup:PlacementGroup")
    assert pg.inputs["strategy"] == "cluster" and lt.property_dependencies["placement"] == [pg.urn]
    cards = ec2_instance_types("p5.48xlarge")["p5.48xlarge"]["NetworkInfo"]["MaximumNetworkCards"]
    nics = lt.inputs["networkInterfaces"]
    assert cards == 32 and len(nics) == cards
    assert sorted(n["networkCardIndex"] for n in nics) == list(range(cards))
    # AWS "Maximize network bandwidth ... multiple network cards": primary = card 0 / device 0, EFA with ENA;
    # every other card: device index 1, EFA-only (an EFA-only interface cannot be the primary one).
    for nic in each(nics):
        primary = nic["networkCardIndex"] == 0
        assert (nic["deviceIndex"], nic["interfaceType"]) == ((0, "efa") if primary else (1, "efa-only")), nic
        assert nic["securityGroups"][0].startswith("sg-")
    # the EFA interface carries the EKS cluster security group (it replaces the groups EKS would attach)
    assert lt.property_dependencies["networkInterfaces"] == [prod.of_type("aws:eks/cluster:Cluster")[0].urn]
    assert len(groups["od-p5"].inputs["subnetIds"]) == 1 and len(groups["od-g6e"].inputs["subnetIds"]) == 3
    assert groups["od-p5"].inputs["labels"]["vpc.amazonaws.com/efa.present"] == "true"
    assert "networkInterfaces" not in launch_template(prod, groups["od-g6e"]).inputs


def test_autoscaler_node_template_tags_let_pools_scale_from_zero(prod: Inventory) -> None:
    tags = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in prod.of_type("aws:autoscaling/tag:Tag")
            if t.name.startswith("mlops-prod-gpu-od-p5-")}
    prefix = "k8s.io/cluster-autoscaler/node-template"
    assert tags == {
        f"{prefix}/label/mlops.io/gpu-pool": "od-p5", f"{prefix}/label/mlops.io/gpu-type": "h100",
        f"{prefix}/label/nvidia.com/gpu.present": "true", f"{prefix}/label/vpc.amazonaws.com/efa.present": "true",
        f"{prefix}/label/k8s.amazonaws.com/accelerator": "h100",
        f"{prefix}/resources/nvidia.com/gpu": "8", f"{prefix}/taint/nvidia.com/gpu": "true:NoSchedule",
        f"{prefix}/resources/vpc.amazonaws.com/efa": "32",
        "k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/mlops-prod": "owned"}
    assert {t.inputs["tag"]["propagateAtLaunch"] for t in prod.of_type("aws:autoscaling/tag:Tag")} == {False}


def test_device_plugin_release_is_pinned_and_tolerates_every_pool_taint(prod: Inventory) -> None:
    releases = {r.inputs["chart"]: r for r in prod.of_type(RELEASE)}
    plugin = releases[DEVICE_PLUGIN.chart]
    assert plugin.inputs["version"] == DEVICE_PLUGIN.version
    assert plugin.inputs["repositoryOpts"] == {"repo": DEVICE_PLUGIN.repo}
    assert plugin.inputs["namespace"] == "gpu-system"
    tolerations = plugin.inputs["values"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    assert {"key": "mlops.io/spot-gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    efa = releases[EFA_PLUGIN.chart]
    assert efa.inputs["version"] == EFA_PLUGIN.version
    assert efa.inputs["values"]["nodeSelector"] == {"vpc.amazonaws.com/efa.present": "true"}


def test_gpu_operator_runs_without_driver_and_toolkit(karpenter: Inventory) -> None:
    (op,) = [r for r in karpenter.of_type(RELEASE) if r.inputs["chart"] == GPU_OPERATOR.chart]
    assert op.inputs["version"] == GPU_OPERATOR.version
    assert op.inputs["values"]["driver"] == {"enabled": False}
    assert op.inputs["values"]["toolkit"] == {"enabled": False}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in \
        op.inputs["values"]["daemonsets"]["tolerations"]


@pytest.mark.charts("gpu-operator")
def test_the_gpu_operator_adds_no_second_dcgm_exporter() -> None:
    """The operator deploys its DaemonSets from its ClusterPolicy at run time: the rendered ClusterPolicy must keep
    its DCGM exporter off, as the platform's MonitoringCore runs dcgm-exporter on every GPU node already."""
    inv = planned("karpenter", COMPUTE, render=True)
    (policy,) = [r.inputs for r in inv.rendered() if r.inputs.get("kind") == "ClusterPolicy"]
    assert policy["spec"]["dcgmExporter"]["enabled"] is False
    assert policy["spec"]["devicePlugin"]["enabled"] is True  # the rendering is real: the rest stays on


def test_karpenter_replaces_managed_gpu_node_groups(karpenter: Inventory) -> None:
    assert gpu_groups(karpenter) == {}
    (ctl,) = [r for r in karpenter.of_type(RELEASE) if r.inputs["chart"] == KARPENTER.chart]
    assert ctl.inputs["version"] == KARPENTER.version and ctl.inputs["namespace"] == "kube-system"
    assert ctl.inputs["values"]["serviceAccount"] == {"create": False, "name": "karpenter"}
    pools = {p.inputs["metadata"]["name"]: p for p in karpenter.of_type("kubernetes:karpenter.sh/v1:NodePool")}
    assert sorted(pools) == ["g5", "graviton"]
    g5 = pools["g5"].inputs["spec"]
    assert g5["limits"] == {"nvidia.com/gpu": "3"}
    assert g5["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    reqs = {r["key"]: r["values"] for r in g5["template"]["spec"]["requirements"]}
    assert reqs == {"node.kubernetes.io/instance-type": ["g5.2xlarge", "g5.4xlarge"],
                    "karpenter.sh/capacity-type": ["spot"], "kubernetes.io/arch": ["amd64"]}
    graviton = {r["key"]: r["values"] for r in pools["graviton"].inputs["spec"]["template"]["spec"]["requirements"]}
    assert graviton["kubernetes.io/arch"] == ["arm64"] and graviton["karpenter.sh/capacity-type"] == ["on-demand"]
    # CRD ordering: custom resources wait for the chart that installs their CRDs
    assert ctl.urn in pools["g5"].options["dependsOn"]


def test_karpenter_node_classes_are_hardened(karpenter: Inventory) -> None:
    classes = {c.inputs["metadata"]["name"]: c.inputs["spec"]
               for c in karpenter.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")}
    g5 = classes["g5"]
    # karpenterAmiVersion pins AL2023 releases (vYYYYMMDD); Bottlerocket has its own version format and setting.
    assert g5["amiSelectorTerms"] == [{"alias": "bottlerocket@latest"}]
    assert classes["graviton"]["amiSelectorTerms"] == [{"alias": "al2023@v20251120"}]
    assert g5["metadataOptions"]["httpTokens"] == "required"
    # Bottlerocket's OS volume and its data volume, both on the cluster key (AL2023: one root volume).
    (cluster_key,) = {bdm["ebs"]["kmsKeyID"] for c in classes.values() for bdm in c["blockDeviceMappings"]}
    os_volume, data = g5["blockDeviceMappings"]
    assert (os_volume["deviceName"], os_volume["ebs"]["volumeSize"]) == ("/dev/xvda", "4Gi")
    assert data["deviceName"] == "/dev/xvdb" and data["ebs"]["volumeSize"] == "100Gi"
    assert all(b["ebs"]["encrypted"] is True and b["ebs"]["kmsKeyID"] == cluster_key for b in (os_volume, data))
    assert [b["deviceName"] for b in classes["graviton"]["blockDeviceMappings"]] == ["/dev/xvda"]
    assert len(g5["subnetSelectorTerms"]) == 3


def test_karpenter_reads_an_interruption_queue_fed_by_the_four_event_rules(karpenter: Inventory) -> None:
    """Karpenter v1.9's getting-started CloudFormation: Spot interruption, rebalance, state change and AWS Health
    events to an SQS queue the controller reads (`settings.interruptionQueue`) and may receive from and delete."""
    (queue,) = karpenter.of_type("aws:sqs/queue:Queue")
    arn = next(t.inputs["arn"] for t in karpenter.of_type("aws:cloudwatch/eventTarget:EventTarget"))
    (ctl,) = [r for r in karpenter.of_type(RELEASE) if r.inputs["chart"] == KARPENTER.chart]
    assert arn.endswith(":" + ctl.inputs["values"]["settings"]["interruptionQueue"])
    assert queue.urn in ctl.property_dependencies["values"]
    rules = {r.urn: json.loads(r.inputs["eventPattern"])["detail-type"][0]
             for r in karpenter.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert sorted(rules.values()) == ["AWS Health Event", "EC2 Instance Rebalance Recommendation",
                                      "EC2 Instance State-change Notification", "EC2 Spot Instance Interruption Warning"]
    targets = karpenter.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert {t.property_dependencies["rule"][0] for t in targets} == set(rules)
    assert all(t.property_dependencies["arn"] == [queue.urn] and t.inputs["arn"] == arn for t in each(targets))
    (policy,) = karpenter.of_type("aws:sqs/queuePolicy:QueuePolicy")
    assert json.loads(policy.inputs["policy"])["Statement"][0]["Principal"]["Service"][0] == "events.amazonaws.com"
    controller = json.loads(next(p for p in karpenter.of_type("aws:iam/rolePolicy:RolePolicy")
                                 if p.name.startswith("mlops-staging-karpenter-controller")).inputs["policy"])
    (read,) = [s for s in controller["Statement"] if s["Sid"] == "InterruptionQueue"]
    assert read["Action"] == ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]
    assert read["Resource"] == [arn]


def test_a_bottlerocket_release_is_pinned_in_its_own_format() -> None:
    from mlops_infra.compute.gpu_config import GpuPlatformConfig
    assert GpuPlatformConfig.model_validate({"karpenterBottlerocketAmiVersion": "v1.50.0"})
    with pytest.raises(ValueError):
        GpuPlatformConfig.model_validate({"karpenterBottlerocketAmiVersion": "v20251120"})


def test_karpenter_controller_policy_has_no_wildcard_actions(karpenter: Inventory) -> None:
    policy = json.loads(next(p for p in karpenter.of_type("aws:iam/rolePolicy:RolePolicy")
                             if p.name.startswith("mlops-staging-karpenter-controller")).inputs["policy"])
    for stmt in each(policy["Statement"]):
        assert all("*" not in a.split(":")[1] for a in each(stmt["Action"])), stmt
        if stmt["Resource"] == ["*"]:
            assert all(a.split(":")[1].startswith(("Describe", "GetProducts", "List")) for a in each(stmt["Action"])), stmt
    pass_role = next(s for s in policy["Statement"] if s["Sid"] == "PassNodeRole")
    assert pass_role["Resource"][0].startswith("arn:aws:iam::123456789012:role/mlops-staging-node-")


def karpenter_policy(inv: Inventory) -> dict[str, Any]:
    return json.loads(next(p for p in inv.of_type("aws:iam/rolePolicy:RolePolicy")
                           if p.name.startswith("mlops-staging-karpenter-controller")).inputs["policy"])


def profile_tags(cluster: str, region: str = "eu-west-1") -> dict[str, str]:
    """What Karpenter v1.9.0 tags its instance profiles with (pkg/apis/v1/ec2nodeclass.go InstanceProfileTags)."""
    return {f"kubernetes.io/cluster/{cluster}": "owned", "eks:eks-cluster-name": cluster,
            "topology.kubernetes.io/region": region, "karpenter.k8s.aws/ec2nodeclass": "g5"}


def test_karpenter_instance_profile_rights_are_scoped_to_this_clusters_profiles(karpenter: Inventory) -> None:
    policy = [karpenter_policy(karpenter)]
    profile = "arn:aws:iam::123456789012:instance-profile/karpenter/eu-west-1/mlops-staging/uid/mlops-staging_123"
    mine = {f"aws:ResourceTag/{k}": v for k, v in profile_tags("mlops-staging").items()}
    theirs = {f"aws:ResourceTag/{k}": v for k, v in profile_tags("other-cluster").items()}
    for action in ("iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"):
        assert iam_eval.allows(policy, action, profile, mine), action
        assert not iam_eval.allows(policy, action, profile, theirs), action
        assert not iam_eval.allows(policy, action, profile, {}), action
    create = {f"aws:RequestTag/{k}": v for k, v in profile_tags("mlops-staging").items()}
    assert iam_eval.allows(policy, "iam:CreateInstanceProfile", profile, create)
    assert not iam_eval.allows(policy, "iam:CreateInstanceProfile", profile, {})
    assert iam_eval.allows(policy, "iam:TagInstanceProfile", profile, {**mine, **create})
    assert not iam_eval.allows(policy, "iam:TagInstanceProfile", profile, {**theirs, **create})
    # the EC2NodeClass finalizer lists its profiles by path (ListNodeClassProfiles): without this it never finishes
    assert iam_eval.allows(policy, "iam:ListInstanceProfiles", "*")


def test_karpenter_may_tag_its_own_nodes_after_launch_and_nothing_else(karpenter: Inventory) -> None:
    policy = [karpenter_policy(karpenter)]
    instance = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"
    own = {"aws:ResourceTag/kubernetes.io/cluster/mlops-staging": "owned", "aws:ResourceTag/karpenter.sh/nodepool": "g5"}
    assert iam_eval.allows(policy, "ec2:CreateTags", instance, {**own, "aws:TagKeys": ["Name", "karpenter.sh/nodeclaim"]})
    assert not iam_eval.allows(policy, "ec2:CreateTags", instance, {**own, "aws:TagKeys": ["kubernetes.io/cluster/x"]})
    foreign = {"aws:ResourceTag/kubernetes.io/cluster/other": "owned", "aws:ResourceTag/karpenter.sh/nodepool": "g5"}
    assert not iam_eval.allows(policy, "ec2:CreateTags", instance, {**foreign, "aws:TagKeys": ["Name"]})
    assert iam_eval.allows(policy, "ec2:TerminateInstances", instance, own)
    assert not iam_eval.allows(policy, "ec2:TerminateInstances", instance, foreign)
    launch = {"aws:RequestTag/kubernetes.io/cluster/mlops-staging": "owned",
              "aws:RequestTag/eks:eks-cluster-name": "mlops-staging", "aws:RequestTag/karpenter.sh/nodepool": "g5"}
    assert iam_eval.allows(policy, "ec2:RunInstances", instance, launch)
    assert not iam_eval.allows(policy, "ec2:RunInstances", instance, {})


def test_karpenter_reads_prices_from_the_price_list_region(karpenter: Inventory) -> None:
    """The cluster is in eu-west-1; the Price List API is called in us-east-1 (aws:RequestedRegion)."""
    policy = [karpenter_policy(karpenter)]
    assert iam_eval.allows(policy, "pricing:GetProducts", "*", {"aws:RequestedRegion": "us-east-1"})
    assert iam_eval.allows(policy, "ec2:DescribeInstanceTypes", "*", {"aws:RequestedRegion": "eu-west-1"})
    assert not iam_eval.allows(policy, "ec2:DescribeInstanceTypes", "*", {"aws:RequestedRegion": "us-east-1"})


BASE: dict[str, Any] = {"environment": "prod", "tags": {"owner": "o", "costCenter": "c"},
                        "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
                        "securityBaseline": PROD_GUARDS, "cluster": PROD_API_ACCESS}


def problems(*pools: dict[str, Any], **extra: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_platform_config({**BASE, "gpuPools": list(pools), **extra})
    return info.value.problems


def pool(**kw: Any) -> dict[str, Any]:
    return {"name": "p", "instanceTypes": ["g6.xlarge"], "maxSize": 2, **kw}


@pytest.mark.parametrize(("kw", "expected"), [
    ({"instanceTypes": ["m7i.large"]}, "gpuPools[0].instanceTypes[0]: 'm7i.large' is not a GPU instance type "
     "(families: g4dn, g5, g5g, g6, g6e, g7e, gr6, p4d, p4de, p5, p5e, p5en, p6-b200)"),
    ({"minSize": 3, "maxSize": 2}, "gpuPools[0].maxSize: must be >= minSize (2 < 3)"),
    ({"minSize": 1, "desiredSize": 5}, "gpuPools[0].desiredSize: must be between minSize and maxSize (5 not in 1..2)"),
    ({"instanceTypes": ["g6.xlarge"], "amiType": "AL2023_ARM_64_NVIDIA"},
     "gpuPools[0].instanceTypes[0]: 'g6.xlarge' is x86_64, but amiType AL2023_ARM_64_NVIDIA is arm64"),
    ({"instanceTypes": ["g6.xlarge"], "efa": True}, "gpuPools[0].instanceTypes[0]: 'g6.xlarge' does not support EFA (efa: true)"),
    ({"capacityType": "SPOT"},
     "gpuPools[0].instanceTypes: a SPOT pool needs at least 2 instance types to survive capacity reclaims"),
    ({"labels": {"mlops.io/gpu-pool": "x"}},
     "gpuPools[0].labels.mlops.io/gpu-pool: reserved label key (set by the platform or Kubernetes)"),
    ({"amiType": "AL2_x86_64_GPU"}, "gpuPools[0].amiType: must be one of 'AL2023_x86_64_NVIDIA', "
     "'AL2023_ARM_64_NVIDIA', 'BOTTLEROCKET_x86_64_NVIDIA' or 'BOTTLEROCKET_ARM_64_NVIDIA' (got 'AL2_x86_64_GPU')"),
])
def test_gpu_pool_messages(kw: dict[str, Any], expected: str) -> None:
    assert problems(pool(**kw)) == [expected]


@pytest.mark.slow  # moto's EC2 catalogue
def test_gpu_catalogue_matches_ec2_describe_instance_types() -> None:
    """GPU count, vCPUs, architecture, EFA support and network cards of every catalogue entry, and no size of a
    supported family missing, against EC2's own answer (moto's recorded AWS catalogue)."""
    ec2 = ec2_instance_types()
    for name, entry in each(GPU_INSTANCES.items()):
        real = ec2[name]
        assert (entry.gpus, entry.vcpus, entry.arch, entry.efa, entry.network_cards) == (
            sum(g["Count"] for g in real["GpuInfo"]["Gpus"]), real["VCpuInfo"]["DefaultVCpus"],
            real["ProcessorInfo"]["SupportedArchitectures"][0], real["NetworkInfo"]["EfaSupported"],
            real["NetworkInfo"]["MaximumNetworkCards"]), name
    assert sorted(t for t in ec2 if family_of(t) in GPU_FAMILIES and t not in GPU_INSTANCES) == []
    assert {f for f in ("p6-b200", "g7e", "gr6")} <= {family_of(t) for t in GPU_INSTANCES}


def test_unknown_gpu_instance_type_is_a_config_error_listing_its_path() -> None:
    assert problems(pool(instanceTypes=["g6.xlarge", "g7e.xlarge"])) == [
        "gpuPools[0].instanceTypes[1]: unknown GPU instance type 'g7e.xlarge': its GPU count is not in the catalogue "
        "(mlops_infra/config/instances.py; known g7e sizes: g7e.12xlarge, g7e.24xlarge, g7e.2xlarge, g7e.48xlarge, "
        "g7e.4xlarge, g7e.8xlarge)"]


@pytest.mark.parametrize(("itype", "gpus"), [("p6-b200.48xlarge", 8), ("g7e.12xlarge", 2), ("gr6.8xlarge", 1)])
def test_new_families_scale_from_zero_with_their_real_gpu_count(itype: str, gpus: int) -> None:
    config = load_platform_config({**BASE, "gpuPools": [pool(instanceTypes=[itype], maxSize=3)]})
    assert config.gpu_pools[0].min_gpus_per_node == gpus and config.gpu_pools[0].total_gpus_at_max == 3 * gpus


def test_efa_needs_managed_node_groups() -> None:
    assert problems(pool(instanceTypes=["p5.48xlarge"], efa=True), gpu={"provisioner": "karpenter"}) == [
        "gpuPools[0].efa: EFA placement groups need provisioner managedNodeGroups"]


def test_untainted_pool_and_graviton_bottlerocket_are_valid() -> None:
    config = load_platform_config({**BASE, "gpuPools": [
        pool(taint=None), pool(name="arm", instanceTypes=["g5g.xlarge"], amiType="BOTTLEROCKET_ARM_64_NVIDIA")]})
    assert config.gpu_pools[0].taint is None and config.gpu_pools[1].arch == "arm64"
    assert config.gpu_pools[1].gpu_type == "t4g"


@pytest.mark.parametrize("stack", ["prod", "karpenter"])
def test_gpu_capacity_waits_for_the_node_role_policies(stack: str, prod: Inventory, karpenter: Inventory) -> None:
    """`pulumi destroy` removes GPU nodes (node groups, Karpenter node classes) before their role's policies."""
    inv = prod if stack == "prod" else karpenter
    attachments = {a.urn for a in inv.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                   if "-node-" in a.name}
    assert len(attachments) == 2
    nodes = [*gpu_groups(inv).values(), *inv.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")]
    assert nodes
    for node in nodes:
        assert attachments <= set(node.dependencies), node.name


def shipped_platform(stack: str) -> dict[str, Any]:
    import yaml

    from tests.conftest import ROOT
    found: dict[str, Any] = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return found["config"]["mlops:platform"]


def test_prod_pools_are_refused_in_eu_west_1_naming_the_pool_and_region_and_accepted_elsewhere() -> None:
    from mlops_infra.compute.gpu_config import NOT_OFFERED
    shipped = shipped_platform("prod")
    absent = [(i, j, t) for i, p in enumerate(shipped["gpuPools"]) for j, t in enumerate(p["instanceTypes"])
              if family_of(t) in NOT_OFFERED["eu-west-1"]]
    assert {family_of(t) for _, _, t in each(absent)} == {"g6", "g6e", "p5"}
    with pytest.raises(ConfigError) as info:
        load_platform_config({**shipped, "region": "eu-west-1"})
    assert info.value.problems == [f"gpuPools[{i}].instanceTypes[{j}]: GPU pool {shipped['gpuPools'][i]['name']!r}: {t} is not "
                     f"offered in eu-west-1 (AWS lists no {family_of(t)} instances there), so the pool could never "
                     "launch a node: use a family AWS offers in eu-west-1 or another Region; if `aws ec2 "
                     "describe-instance-type-offerings --region eu-west-1` lists it now, set "
                     f"gpuPools[{i}].assumeOffered: true" for i, j, t in absent]
    for region in ("us-east-1", "us-west-2"):
        assert load_platform_config({**shipped, "region": region}).gpu_pools  # the same pools plan there
    # The table is dated: a pool whose owner checked the Region's offerings says so, and only that pool plans.
    assumed = [{**p, "assumeOffered": True} for p in shipped["gpuPools"]]
    assert load_platform_config({**shipped, "region": "eu-west-1", "gpuPools": assumed}).gpu_pools
    first = absent[0][0]
    one = [{**p, "assumeOffered": i == first} for i, p in enumerate(shipped["gpuPools"])]
    with pytest.raises(ConfigError) as partly:
        load_platform_config({**shipped, "region": "eu-west-1", "gpuPools": one})
    assert len(partly.value.problems) == len([a for a in absent if a[0] != first])


def test_a_family_offered_in_eu_west_1_is_accepted_there() -> None:
    assert load_platform_config({**BASE, "region": "eu-west-1", "gpuPools": [pool(instanceTypes=["g5.xlarge"])]})
