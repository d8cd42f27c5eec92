"""GPU node pools (managed node groups and Karpenter), GPU software releases, and GPU pool validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.config import ConfigError, load_platform_config
from mlops_infra.config.versions import DEVICE_PLUGIN, EFA_PLUGIN, GPU_OPERATOR, KARPENTER
from mlops_infra.plan import Inventory, plan_program
from tests.conftest import PROGRAMS

COMPUTE = PROGRAMS / "compute"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return plan_program(COMPUTE, "prod")


@pytest.fixture(scope="module")
def karpenter() -> Inventory:
    return plan_program(COMPUTE, "karpenter")


def gpu_groups(inv: Inventory) -> dict[str, Any]:
    return {r.inputs["labels"]["mlops.io/gpu-pool"]: r for r in inv.of_type(NODE_GROUP)
            if "mlops.io/gpu-pool" in r.inputs.get("labels", {})}


def test_prod_has_one_node_group_per_pool_with_nvidia_ami_taint_and_scale_to_zero(prod: Inventory) -> None:
    groups = gpu_groups(prod)
    assert sorted(groups) == ["od-g6e", "od-p5", "spot-g6"]
    for ng in groups.values():
        assert ng.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert ng.inputs["scalingConfig"]["minSize"] == 0
        assert ng.options["ignoreChanges"] == ["scalingConfig.desiredSize"]
    assert groups["od-p5"].inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert groups["spot-g6"].inputs["taints"] == [{"key": "mlops.io/spot-gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert groups["spot-g6"].inputs["capacityType"] == "SPOT"
    assert groups["spot-g6"].inputs["instanceTypes"] == ["g6.4xlarge", "g6.8xlarge", "g5.4xlarge"]
    assert groups["od-g6e"].inputs["labels"] == {"mlops.io/gpu-pool": "od-g6e", "mlops.io/gpu-type": "l40s",
                                                 "nvidia.com/gpu.present": "true"}
    assert groups["spot-g6"].inputs["labels"]["mlops.io/gpu-type"] == "mixed"


def launch_template(inv: Inventory, ng: Any) -> Any:
    (urn,) = ng.property_dependencies["launchTemplate"]
    return inv.by_urn()[urn]


def test_launch_templates_require_imdsv2_and_encrypt_a_gp3_root(prod: Inventory) -> None:
    for pool, ng in gpu_groups(prod).items():
        lt = launch_template(prod, ng)
        assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
        assert lt.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        (bdm,) = lt.inputs["blockDeviceMappings"]
        assert bdm["deviceName"] == "/dev/xvda"
        assert (bdm["ebs"]["volumeType"], bdm["ebs"]["encrypted"]) == ("gp3", "true")
        assert bdm["ebs"]["volumeSize"] == (200 if pool == "od-g6e" else 100)
        assert bdm["ebs"]["kmsKeyId"].startswith("arn:aws:kms:")


def test_efa_pool_gets_a_placement_group_an_efa_interface_and_one_subnet(prod: Inventory) -> None:
    groups = gpu_groups(prod)
    lt = launch_template(prod, groups["od-p5"])
    (pg,) = prod.of_type("aws:ec2/placementGroup:PlacementGroup")
    assert pg.inputs["strategy"] == "cluster" and lt.property_dependencies["placement"] == [pg.urn]
    (nic,) = lt.inputs["networkInterfaces"]
    assert nic["interfaceType"] == "efa" and nic["securityGroups"][0].startswith("sg-")
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
        f"{prefix}/resources/nvidia.com/gpu": "8", f"{prefix}/taint/nvidia.com/gpu": "true:NoSchedule"}
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


def test_karpenter_replaces_managed_gpu_node_groups(karpenter: Inventory) -> None:
    assert gpu_groups(karpenter) == {}
    (ctl,) = [r for r in karpenter.of_type(RELEASE) if r.inputs["chart"] == KARPENTER.chart]
    assert ctl.inputs["version"] == KARPENTER.version and ctl.inputs["namespace"] == "kube-system"
    assert ctl.inputs["values"]["serviceAccount"] == {"create": False, "name": "karpenter"}
    pools = {p.inputs["metadata"]["name"]: p for p in karpenter.of_type("kubernetes:karpenter.sh/v1:NodePool")}
    assert sorted(pools) == ["g6e", "graviton"]
    g6e = pools["g6e"].inputs["spec"]
    assert g6e["limits"] == {"nvidia.com/gpu": "3"}
    assert g6e["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    reqs = {r["key"]: r["values"] for r in g6e["template"]["spec"]["requirements"]}
    assert reqs == {"node.kubernetes.io/instance-type": ["g6e.2xlarge", "g6e.4xlarge"],
                    "karpenter.sh/capacity-type": ["spot"], "kubernetes.io/arch": ["amd64"]}
    graviton = {r["key"]: r["values"] for r in pools["graviton"].inputs["spec"]["template"]["spec"]["requirements"]}
    assert graviton["kubernetes.io/arch"] == ["arm64"] and graviton["karpenter.sh/capacity-type"] == ["on-demand"]
    # CRD ordering: custom resources wait for the chart that installs their CRDs
    assert ctl.urn in pools["g6e"].options["dependsOn"]


def test_karpenter_node_classes_are_hardened(karpenter: Inventory) -> None:
    classes = {c.inputs["metadata"]["name"]: c.inputs["spec"]
               for c in karpenter.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")}
    g6e = classes["g6e"]
    assert g6e["amiSelectorTerms"] == [{"alias": "bottlerocket@v20251120"}]
    assert classes["graviton"]["amiSelectorTerms"] == [{"alias": "al2023@v20251120"}]
    assert g6e["metadataOptions"]["httpTokens"] == "required"
    (bdm,) = g6e["blockDeviceMappings"]
    assert bdm["deviceName"] == "/dev/xvdb" and bdm["ebs"]["encrypted"] is True and bdm["ebs"]["volumeSize"] == "100Gi"
    assert len(g6e["subnetSelectorTerms"]) == 3


def test_karpenter_controller_policy_has_no_wildcard_actions(karpenter: Inventory) -> None:
    policy = json.loads(next(p for p in karpenter.of_type("aws:iam/rolePolicy:RolePolicy")
                             if p.name.startswith("mlops-staging-karpenter-controller")).inputs["policy"])
    for stmt in policy["Statement"]:
        assert all("*" not in a.split(":")[1] for a in stmt["Action"]), stmt
        if stmt["Resource"] == ["*"]:
            assert all(a.split(":")[1].startswith(("Describe", "GetProducts")) for a in stmt["Action"]), stmt
    pass_role = next(s for s in policy["Statement"] if s["Sid"] == "PassNodeRole")
    assert pass_role["Resource"][0].startswith("arn:aws:iam::123456789012:role/mlops-staging-node-")


BASE: dict[str, Any] = {"environment": "prod", "tags": {"owner": "o", "costCenter": "c"}}


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


def test_efa_needs_managed_node_groups() -> None:
    assert problems(pool(instanceTypes=["p5.48xlarge"], efa=True), gpu={"provisioner": "karpenter"}) == [
        "gpuPools[0].efa: EFA placement groups need provisioner managedNodeGroups"]


def test_untainted_pool_and_graviton_bottlerocket_are_valid() -> None:
    config = load_platform_config({**BASE, "gpuPools": [
        pool(taint=None), pool(name="arm", instanceTypes=["g5g.xlarge"], amiType="BOTTLEROCKET_ARM_64_NVIDIA")]})
    assert config.gpu_pools[0].taint is None and config.gpu_pools[1].arch == "arm64"
    assert config.gpu_pools[1].gpu_type == "t4g"
