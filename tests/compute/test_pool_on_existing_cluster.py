"""GpuNodePool takes refs like every component: a pool added to an existing cluster (the dev platform's, read
through a StackReference) joins it with the platform's node role, key and subnets, all read from the outputs."""

from __future__ import annotations

from mlops_infra.plan import Inventory, plan_program
from tests.conftest import EXAMPLES, planned

PLATFORM_STACK = "organization/mlops-platform/dev"
_PLAN: list[Inventory] = []


def pool_plan() -> Inventory:
    if not _PLAN:
        _PLAN.append(plan_program(EXAMPLES / "gpu_node_pool", "dev",
                                  stack_refs={PLATFORM_STACK: planned("dev").outputs}))
    return _PLAN[0]


def test_a_pool_joins_the_stack_references_cluster_with_its_node_role_and_subnets() -> None:
    platform, inv = planned("dev").outputs, pool_plan()
    groups = inv.of_type("aws:eks/nodeGroup:NodeGroup")
    assert groups, "the program adds a pool"
    for group in groups:
        assert group.inputs["clusterName"] == platform["clusterName"]
        assert group.inputs["nodeRoleArn"] == platform["nodeRoleArn"]
        assert group.inputs["subnetIds"] == platform["privateSubnetIds"]
    templates = inv.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert templates
    for template in templates:
        assert {m["ebs"]["kmsKeyId"] for m in template.inputs["blockDeviceMappings"]} == {platform["clusterKmsKeyArn"]}


def test_the_cluster_provider_is_made_once_under_the_parent_the_program_names() -> None:
    inv = pool_plan()
    (provider,) = inv.of_type("pulumi:providers:kubernetes")
    (parent,) = inv.of_type("mlops:test:Capacity")
    assert provider.parent == parent.urn
    assert [r for r in inv if r.custom and r.type.startswith("kubernetes:")] == []  # a pool is AWS only
