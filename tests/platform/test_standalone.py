"""Components alone on another stack's cluster: FeatureStore and ModelRegistry planned through a StackReference whose
outputs are Outputs (the README's examples, verbatim), and every Kubernetes object bound to an explicit provider."""

from __future__ import annotations

import re
from pathlib import Path

import pulumi
import pytest

from mlops_infra.blocks.refs import ClusterRefs, bind_kubernetes, known_len
from mlops_infra.plan import SECRET, Inventory, plan_program
from tests.conftest import PROGRAMS, ROOT, planned

PLATFORM_STACK = "organization/mlops-platform/dev"
FEATURES = PROGRAMS / "standalone_feature_store"
REGISTRY = PROGRAMS / "standalone_model_registry"
_PLANS: dict[tuple[Path, str], Inventory] = {}


def standalone(program: Path, stack: str = "dev") -> Inventory:
    """`program` planned on the dev platform's real outputs (`[secret]` kubeconfig included), once per session."""
    key = (program, stack)
    if key not in _PLANS:
        _PLANS[key] = plan_program(program, stack, stack_refs={PLATFORM_STACK: planned("dev").outputs})
    return _PLANS[key]


def kubernetes_objects(inv: Inventory) -> list:  # type: ignore[type-arg]
    return [r for r in inv if r.custom and r.type.startswith("kubernetes:")]


def unbound(inv: Inventory) -> list[str]:
    return [r.urn for r in kubernetes_objects(inv) if not r.options.get("provider")]


@pytest.mark.parametrize("program", [FEATURES, REGISTRY], ids=["feature-store", "model-registry"])
def test_a_standalone_component_binds_every_kubernetes_object_to_the_stack_references_cluster(program: Path) -> None:
    inv = standalone(program)
    (provider,) = inv.of_type("pulumi:providers:kubernetes")
    assert provider.name == "platform-cluster"
    assert provider.inputs["kubeconfig"] == SECRET  # the platform's secret output, never a plaintext copy
    objects = kubernetes_objects(inv)
    assert len(objects) >= 5
    assert unbound(inv) == []
    assert {r.options["provider"] for r in objects} == {provider.urn}


def test_the_feature_store_reads_the_platforms_outputs_not_literals() -> None:
    platform, inv = planned("dev").outputs, standalone(FEATURES)
    (ref,) = inv.of_type("pulumi:pulumi:StackReference")
    assert ref.inputs["name"] == PLATFORM_STACK
    roles = inv.of_type("aws:iam/role:Role")
    assert roles, "the feature server and materializer need IRSA roles"
    for role in roles:
        assert platform["oidcProviderArn"] in role.inputs["assumeRolePolicy"]
    assert inv.outputs["featureStoreYaml"].startswith("project: ")


def test_redis_and_the_sql_registry_take_subnets_from_an_output() -> None:
    """The ElastiCache and RDS subnet groups get the list as it comes (an Output): nothing counts it."""
    subnets = planned("dev").outputs["privateSubnetIds"]
    inv = standalone(FEATURES, "redis")
    (cache,) = inv.of_type("aws:elasticache/subnetGroup:SubnetGroup")
    (rds,) = inv.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert cache.inputs["subnetIds"] == rds.inputs["subnetIds"] == subnets
    assert unbound(inv) == []


def test_the_model_registry_database_and_ingress_sit_in_the_platforms_vpc() -> None:
    platform, inv = planned("dev").outputs, standalone(REGISTRY)
    (subnets,) = inv.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == platform["privateSubnetIds"]
    groups = inv.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert groups and all(g.inputs["vpcId"] == platform["vpcId"] for g in groups)
    rules = inv.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert {r.inputs["referencedSecurityGroupId"] for r in rules} == {platform["clusterSecurityGroupId"]}
    assert inv.outputs["trackingUri"].endswith(".search-mlflow.svc.cluster.local:5000")


@pytest.mark.parametrize(("program", "stack"), [(ROOT, "dev"), (ROOT, "staging"), (ROOT, "prod"),
                                                (PROGRAMS / "compute", "karpenter")])
def test_the_platform_binds_every_kubernetes_object_to_its_clusters_provider(program: Path, stack: str) -> None:
    inv = planned(stack, program)
    assert len(kubernetes_objects(inv)) > 10
    assert unbound(inv) == []
    providers = {r.urn for r in inv.of_type("pulumi:providers:kubernetes")}
    assert {r.options["provider"] for r in kubernetes_objects(inv)} <= providers


def readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [m.group(1) for m in re.finditer(r"```python\n(.*?)```", text, flags=re.S)]


@pytest.mark.parametrize("program", [FEATURES, REGISTRY], ids=["feature-store", "model-registry"])
def test_the_readme_shows_exactly_the_planned_program(program: Path) -> None:
    assert (program / "__main__.py").read_text(encoding="utf-8") in readme_python_blocks()


# --- the refs themselves ------------------------------------------------------------------------------------------

def test_known_len_counts_lists_and_never_outputs() -> None:
    assert known_len(["subnet-a", "subnet-b"]) == 2
    assert known_len([]) == 0
    assert known_len(pulumi.Output.from_input(["subnet-a"])) is None


def test_bind_without_a_provider_keeps_the_callers_options() -> None:
    opts = pulumi.ResourceOptions(protect=True)
    assert bind_kubernetes(opts, None) is opts
    assert bind_kubernetes(None, None) is None


def test_an_existing_cluster_needs_a_kubeconfig_or_a_provider() -> None:
    with pytest.raises(ValueError, match="needs a kubeconfig or a Kubernetes provider"):
        ClusterRefs.existing("ml", security_group_id="sg-1", version="1.35")
