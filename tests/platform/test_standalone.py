"""Components alone on another stack's cluster: FeatureStore and ModelRegistry planned through a StackReference whose
outputs are Outputs (the README's examples, verbatim), and every Kubernetes object bound to an explicit provider."""

from __future__ import annotations

import re
from pathlib import Path

import pulumi
import pytest

from mlops_infra.blocks.refs import ClusterRefs, known_len
from mlops_infra.plan import SECRET, Inventory, PlanError, plan_program
from tests.add_on_claims import recorded
from tests.conftest import EXAMPLES, PROGRAMS, ROOT, planned, planned_variant

PLATFORM_STACK = "organization/mlops-platform/dev"
FEATURES = EXAMPLES / "feast_feature_store"
REGISTRY = EXAMPLES / "mlflow_registry"
PAIR = EXAMPLES / "feature_store_and_registry"
_PLANS: dict[tuple[Path, str], Inventory] = {}
WITH_OPERATOR = {"enabled": True, "externalSecrets": True, "cloudtrail": False, "guardduty": False,
                 "accessAnalyzer": False, "exfiltrationGuards": False}
"""The dev platform's `securityBaseline` with the External Secrets operator and nothing else of the baseline (the dev
profile turns the baseline off): the examples whose components sync Secrets through the operator (engines, LakeFS,
Qdrant) need a platform that runs it, and are refused on dev's own outputs (tests/platform/test_external_secrets_alone.py)."""
OPERATOR_OUTPUTS = ("externalSecretsStore", "clusterAddOns", "clusterAddOnOwners", "platformNamespaces")
"""The outputs in which that platform's plan differs from dev's (tests/platform/test_external_secrets_alone.py)."""


def external_secrets() -> dict[str, object]:
    """What the dev platform with the operator (`WITH_OPERATOR`) exports in `OPERATOR_OUTPUTS`, from its plan."""
    outputs = planned_variant("dev", securityBaseline=WITH_OPERATOR).outputs
    return {key: outputs[key] for key in OPERATOR_OUTPUTS}


def platform_outputs(**changes: object) -> dict[str, object]:
    """The dev platform's planned outputs, with the External Secrets operator (`external_secrets()`: its store, the
    add-on and its owner, its namespace) and `changes`."""
    outputs = planned("dev").outputs
    add_ons = outputs["clusterAddOns"]
    assert isinstance(add_ons, list) and "externalSecrets" not in add_ons  # the dev profile: no operator
    return {**outputs, **external_secrets(), **changes}


def standalone(program: Path, stack: str = "dev") -> Inventory:
    """`program` planned on the dev platform's real outputs (`[secret]` kubeconfig included) with the External
    Secrets operator (`platform_outputs`), once per session."""
    key = (program, stack)
    if key not in _PLANS:
        _PLANS[key] = recorded((program.name, stack), lambda: plan_program(
            program, stack, stack_refs={PLATFORM_STACK: platform_outputs()}))
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
    """Every Kubernetes object of the planned inventory, rendered chart objects aside, names a provider explicitly,
    and that provider is the one the training cluster made (never a default provider, never a second one)."""
    inv = planned(stack, program)
    assert len(kubernetes_objects(inv)) > 10
    assert unbound(inv) == []
    clusters = {r.urn for r in inv if r.type.endswith(":TrainingCluster")}
    (provider,) = [r for r in inv.of_type("pulumi:providers:kubernetes") if r.parent in clusters]
    assert {r.options["provider"] for r in kubernetes_objects(inv)} == {provider.urn}


@pytest.mark.parametrize(("program", "stack"), [
    (PROGRAMS / "compute", "prod"), (PROGRAMS / "monitoring", "full"), (PROGRAMS / "security_baseline", "prod"),
    (PROGRAMS / "feature_store", "prod"), (PROGRAMS / "model_registry", "prod")])
def test_a_core_component_binds_itself_without_the_callers_providers(program: Path, stack: str) -> None:
    """These programs pass no `providers` option: each core component binds through `cluster.bind(opts)` alone,
    so every Kubernetes object still lands on the refs' provider (the one provider of the program)."""
    inv = planned(stack, program)
    objects = kubernetes_objects(inv)
    assert objects
    (provider,) = inv.of_type("pulumi:providers:kubernetes")
    assert {r.options.get("provider") for r in objects} == {provider.urn}


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


def test_bind_adds_the_clusters_provider_to_the_callers_options() -> None:
    refs = ClusterRefs.existing("ml", provider=_FakeProvider(), security_group_id="sg-1", version="1.35")
    opts = refs.bind(pulumi.ResourceOptions(protect=True))
    assert opts.protect is True
    assert opts.providers == {"kubernetes": refs.provider}
    assert refs.bind(None).providers == {"kubernetes": refs.provider}


class _FakeProvider:
    """Stands in for a provider where only identity matters (no Pulumi runtime in these unit tests)."""

    package = "kubernetes"


def test_an_existing_cluster_needs_its_provider() -> None:
    with pytest.raises(TypeError, match="provider"):
        ClusterRefs.existing("ml", security_group_id="sg-1", version="1.35")  # type: ignore[call-arg]


# --- both README examples in one program ---------------------------------------------------------------------------

def test_both_readme_examples_in_one_program_plan_without_a_duplicate_urn() -> None:
    """The feature store and the registry on one StackReference's cluster: one provider, made once by the program
    (refs register nothing), and every Kubernetes object of both bound to it."""
    inv = standalone(PAIR)
    (provider,) = inv.of_type("pulumi:providers:kubernetes")
    assert provider.name == "platform-cluster" and provider.parent is None
    types = {r.type for r in inv}
    assert {"mlops:features:FeastFeatureStore", "mlops:registry:MlflowRegistry"} <= types
    assert unbound(inv) == []
    assert {r.options["provider"] for r in kubernetes_objects(inv)} == {provider.urn}


def test_the_old_shape_two_providers_of_one_name_is_refused(tmp_path: Path) -> None:
    """What refs did before (each `from_stack_outputs` made its own `platform-cluster` provider): the engine refuses
    the second registration, so the pair test above can fail."""
    program = tmp_path / "twice"
    program.mkdir()
    (program / "__main__.py").write_text(
        "import pulumi_kubernetes as k8s\n"
        "from mlops_infra.blocks.refs import cluster_provider\n"
        "cluster_provider('platform-cluster', '{}')\n"
        "cluster_provider('platform-cluster', '{}')\n", encoding="utf-8")
    (program / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    with pytest.raises(PlanError, match="platform-cluster"):
        plan_program(program, "dev")

