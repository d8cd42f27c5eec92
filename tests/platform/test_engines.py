"""Issue 29 item 4: each feature-store and model-registry engine is its own component (FeastFeatureStore,
SageMakerFeatureStore, MlflowRegistry, SageMakerRegistry) behind a small Protocol (FeatureStoreLike,
ModelRegistryLike); the platform reads engine-specific outputs from the engine's own type, and the grant policies
other stacks' roles attach exist as soon as the component does.

The programs assert the Protocols at run time (tests/programs/feature_store and model_registry: `isinstance` of a
runtime-checkable Protocol checks every member is set), so a plan of each engine is also that check."""

from __future__ import annotations

import pytest

from mlops_infra.plan import Inventory
from tests.conftest import PROGRAMS, ROOT, planned
from tests.platform.test_standalone import FEATURES, REGISTRY, standalone

VARIANTS = ROOT / "tests" / "integration" / "variants"
ENGINES = {"mlops:features:FeastFeatureStore", "mlops:features:SageMakerFeatureStore",
           "mlops:registry:MlflowRegistry", "mlops:registry:SageMakerRegistry"}


def engines(inv: Inventory) -> list[str]:
    return sorted(r.type for r in inv if r.type in ENGINES)


def policy_arn(inv: Inventory, name: str) -> object:
    [policy] = [r for r in inv.of_type("aws:iam/policy:Policy") if r.name == name]
    return policy.id


def test_the_platform_with_sagemaker_engines_exports_their_outputs_and_no_feast_or_mlflow_ones() -> None:
    inv = planned("sagemaker", VARIANTS)
    assert engines(inv) == ["mlops:features:SageMakerFeatureStore", "mlops:registry:SageMakerRegistry"]
    out = inv.outputs
    assert out["featureStoreFeatureGroupNames"] == ["mlops-dev-features-groups-drivers"]
    assert out["featureStoreReadPolicyArn"] == policy_arn(inv, "mlops-dev-features-read-policy")
    assert out["modelArtifactWritePolicyArn"] == policy_arn(inv, "mlops-dev-registry-log-models-policy")
    assert not set(out) & {"featureStoreFeatureServerUrl", "featureStoreRegistryPath", "featureStoreFeatureStoreYaml",
                           "mlflowTrackingUri", "modelRegistryDbEndpoint"}


def test_the_platform_with_feast_and_mlflow_exports_the_engine_outputs(dev_plan: Inventory) -> None:
    assert engines(dev_plan) == ["mlops:features:FeastFeatureStore", "mlops:registry:MlflowRegistry"]
    out = dev_plan.outputs
    [server] = [r for r in dev_plan.of_type("kubernetes:core/v1:Service") if r.name == "mlops-dev-features-server-service"]
    assert out["featureStoreFeatureServerUrl"].startswith(f"http://{server.inputs['metadata']['name']}.")
    assert out["mlflowTrackingUri"].endswith(".svc.cluster.local:5000")
    assert "featureStoreFeatureGroupNames" not in out


@pytest.mark.parametrize(("program", "policy"), [(FEATURES, "search-dev-features-read-policy"),
                                                 (REGISTRY, "search-dev-registry-log-models-policy")],
                         ids=["feature-store", "model-registry"])
def test_a_component_that_grants_nothing_still_has_its_exported_grant_policy(program: object, policy: str) -> None:
    """The standalone programs never call a grant method: the policy is created with the component, not on first
    use, so other stacks' roles can attach it."""
    inv = standalone(program)  # type: ignore[arg-type]
    assert [r.name for r in inv.of_type("aws:iam/policy:Policy")] == [policy]
    assert [r for r in inv.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if r.inputs["policyArn"] == inv.named(policy).id] == []  # attached to no role here


@pytest.mark.parametrize(("program", "stack", "engine"), [
    ("feature_store", "dev", "mlops:features:FeastFeatureStore"),
    ("feature_store", "sagemaker", "mlops:features:SageMakerFeatureStore"),
    ("model_registry", "dev", "mlops:registry:MlflowRegistry"),
    ("model_registry", "sagemaker", "mlops:registry:SageMakerRegistry")])
def test_the_factories_build_the_engine_the_config_names(program: str, stack: str, engine: str) -> None:
    """`FeatureStore(...)` / `ModelRegistry(...)` (kept for released programs) return the configured engine."""
    assert engines(planned(stack, PROGRAMS / program)) == [engine]
