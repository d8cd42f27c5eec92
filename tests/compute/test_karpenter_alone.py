"""Karpenter alone on the dev platform's cluster (examples/karpenter): its nodes run as the role the controller may
pass, in the subnets and security group the platform exports; it runs beside the platform's Cluster Autoscaler, and
is refused where the cluster runs Karpenter already. A role of the program's own gets its EKS access entry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_infra.blocks.iam import role_name
from mlops_infra.plan import Inventory, PlanError, plan_program
from tests.conftest import EXAMPLES, PROGRAMS
from tests.nonempty import each
from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs, standalone

EXAMPLE = EXAMPLES / "karpenter"
OWN_ROLE = PROGRAMS / "karpenter_own_role"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"


def controller_policy(inv: Inventory) -> dict[str, dict[str, Any]]:
    """The Karpenter controller's statements, by Sid (its workload identity's inline policy)."""
    (policy,) = [p for p in inv.of_type("aws:iam/rolePolicy:RolePolicy") if "-karpenter-controller" in p.name]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def node_classes(inv: Inventory) -> list[dict[str, Any]]:
    return [c.inputs["spec"] for c in each(inv.of_type(NODE_CLASS))]


def test_the_node_class_role_is_the_platforms_node_role_the_controller_may_pass() -> None:
    inv, outputs = standalone(EXAMPLE), platform_outputs()
    (passed,) = controller_policy(inv)["PassNodeRole"]["Resource"]
    assert passed == outputs["nodeRoleArn"]
    assert {spec["role"] for spec in node_classes(inv)} == {role_name(passed)}


def test_the_node_classes_select_the_platforms_private_subnets_security_group_and_key() -> None:
    inv, outputs = standalone(EXAMPLE), platform_outputs()
    subnets = outputs["privateSubnetIds"]
    assert isinstance(subnets, list) and subnets
    for spec in each(node_classes(inv)):
        assert spec["subnetSelectorTerms"] == [{"id": s} for s in subnets]
        assert spec["securityGroupSelectorTerms"] == [{"id": outputs["clusterSecurityGroupId"]}]
        assert {b["ebs"]["kmsKeyID"] for b in each(spec["blockDeviceMappings"])} == {outputs["clusterKmsKeyArn"]}
    assert controller_policy(inv)["EncryptedVolumes"]["Resource"] == [outputs["clusterKmsKeyArn"]]


def test_karpenter_runs_beside_the_cluster_autoscaler_on_nodes_the_autoscaler_never_discovers() -> None:
    """Allowed (compute/karpenter.py, Karpenter's docstring): the dev platform runs the autoscaler, which resizes only
    the Auto Scaling groups it discovers by tag; Karpenter makes no group, and its nodes carry no such tag."""
    add_ons = platform_outputs()["clusterAddOns"]
    assert isinstance(add_ons, list) and "clusterAutoscaler" in add_ons and "karpenter" not in add_ons
    inv = standalone(EXAMPLE)
    assert inv.of_type("mlops:compute:Karpenter")
    assert [r.type for r in inv if r.type.startswith(("aws:autoscaling/", "aws:eks/nodeGroup:"))] == []
    tags = [key for spec in node_classes(inv) for key in spec["tags"]]
    assert "mlops.io/gpu-pool" in tags
    assert [key for key in tags if key.startswith("k8s.io/cluster-autoscaler")] == []
    # no access entry: the platform's node role has one (EKS made it with the system node group)
    assert inv.of_type("aws:eks/accessEntry:AccessEntry") == []


def test_karpenter_is_refused_on_a_cluster_that_runs_karpenter() -> None:
    outputs = platform_outputs()
    add_ons = outputs["clusterAddOns"]
    assert isinstance(add_ons, list)
    with pytest.raises(PlanError, match=r"search-dev-karpenter: the cluster already runs Karpenter"):
        plan_program(EXAMPLE, "dev", stack_refs={PLATFORM_STACK: {**outputs, "clusterAddOns": [*add_ons, "karpenter"]}})


def test_a_role_of_its_own_gets_an_ec2_linux_access_entry_and_is_passed_by_name_without_its_path() -> None:
    inv = plan_program(OWN_ROLE, "dev", stack_refs={PLATFORM_STACK: platform_outputs()})
    (role,) = [r for r in inv.of_type("aws:iam/role:Role") if r.name == "search-nodes"]
    (passed,) = controller_policy(inv)["PassNodeRole"]["Resource"]
    assert passed.endswith(":role/teams/search/search-karpenter-nodes")
    (entry,) = inv.of_type("aws:eks/accessEntry:AccessEntry")
    assert (entry.inputs["principalArn"], entry.inputs["type"]) == (passed, "EC2_LINUX")
    assert entry.inputs["clusterName"] == platform_outputs()["clusterName"]
    classes = each(inv.of_type(NODE_CLASS))
    assert {c.inputs["spec"]["role"] for c in classes} == {role.inputs["name"]} == {"search-karpenter-nodes"}
    attachments = {r.urn for r in inv.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                   if r.name.startswith("search-nodes-")}
    assert len(attachments) == 2
    for node_class in each(classes):  # nodes drain before their permissions and their admission go
        assert {entry.urn, *attachments} <= set(node_class.options["dependsOn"])


_PATH_PART = st.text(st.sampled_from("abcXYZ019_+=,.@-!~*"), min_size=1, max_size=12)
_NAME = st.text(st.sampled_from("abcXYZ019_+=,.@-"), min_size=1, max_size=64)


@given(partition=st.sampled_from(["aws", "aws-cn", "aws-us-gov"]), account=st.from_regex(r"[0-9]{12}", fullmatch=True),
       path=st.lists(_PATH_PART, max_size=4), name=_NAME)
def test_a_role_name_is_exactly_the_name_in_any_role_arn(partition: str, account: str, path: list[str],
                                                         name: str) -> None:
    prefix = "/" + "".join(f"{p}/" for p in path)
    assert role_name(f"arn:{partition}:iam::{account}:role{prefix}{name}") == name


@pytest.mark.parametrize("arn", [
    "arn:aws:iam::123456789012:user/search", "arn:aws:iam::123456789012:instance-profile/search",
    "arn:aws:iam::123456789012:role/", "arn:aws:iam::123456789012:role/teams/", "search-karpenter-nodes",
    "arn:aws:iam::123456789012:role/" + "n" * 65])
def test_a_role_name_is_refused_for_what_is_not_a_role_arn(arn: str) -> None:
    with pytest.raises(ValueError, match="not an IAM role ARN"):
        role_name(arn)
