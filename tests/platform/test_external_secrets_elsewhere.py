"""An External Secrets operator another stack installed on the platform's cluster (third review of issue 29, finding
4): the platform lists `externalSecrets` in cluster.addOnsInstalledElsewhere and names that operator's
ClusterSecretStore in cluster.externalSecretsStore (required then). It exports the store as `externalSecretsStore`,
so components alone on its cluster plan; its own components that sync Secrets (LakeFS, Qdrant, Prefect) plan on it; and no fix
text sends the user to a config the platform refuses."""

from __future__ import annotations

import pytest

from mlops_infra.blocks.refs import PLATFORM_PRODUCERS
from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory
from mlops_infra.platform.add_ons_elsewhere import KEY, STORE_KEY
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import EXAMPLES, planned, planned_variant
from tests.nonempty import each
from tests.platform.test_add_ons_elsewhere import raw_config, with_elsewhere
from tests.platform.test_external_secrets_alone import without_operator
from tests.platform.test_standalone import PLATFORM_STACK

OWNER = "organization/platform-addons/dev"
STORE = "shared-secrets"
ELSEWHERE = {"addOnsInstalledElsewhere": {"externalSecrets": OWNER}, "externalSecretsStore": STORE}
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER_SECRET_STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
SB_OWNER = "organization/security_baseline/dev"


def with_components() -> Inventory:
    """dev (no security baseline, so no operator of its own) running LakeFS, Qdrant and Prefect, each of which syncs
    Secrets, on the other stack's operator."""
    return planned_variant("dev", cluster=ELSEWHERE, data={"lakefs": {"enabled": True}, "qdrant": {"enabled": True}},
                           orchestration={"prefect": {"enabled": True}})


def test_the_store_is_required_with_the_listing_and_refused_without_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config(with_elsewhere("dev", {"externalSecrets": OWNER}))
    assert [p for p in info.value.problems if p.startswith(STORE_KEY)] == [
        f"{STORE_KEY}: required when {KEY} lists externalSecrets: the name of the ClusterSecretStore the other "
        "stack's External Secrets operator serves (exported as externalSecretsStore for components alone)"]
    raw = raw_config("dev")
    raw["cluster"] = {**raw["cluster"], "externalSecretsStore": STORE}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    assert [p.split(":")[0] for p in info.value.problems] == [STORE_KEY]


def test_the_platform_exports_the_other_stacks_store_and_its_own_components_use_that_operator() -> None:
    inv = with_components()
    assert inv.outputs["externalSecretsStore"] == STORE
    assert "externalSecrets" in inv.outputs["clusterAddOns"]
    assert inv.outputs["clusterAddOnOwners"]["externalSecrets"] == OWNER
    assert "external-secrets" not in inv.outputs["platformNamespaces"]  # the other stack's namespace
    assert "external-secrets" not in {r.inputs.get("chart") for r in inv.of_type(RELEASE)}  # no second operator
    assert {"lakefs", "qdrant"} <= {r.inputs.get("chart") for r in inv.of_type(RELEASE)}
    # Their secrets, synced by the other stack's operator, in each one's namespace.
    synced = {r.inputs["metadata"]["namespace"] for r in inv.of_type(EXTERNAL_SECRET)}
    assert {"lakefs", "qdrant", "prefect"} <= synced, synced
    assert "externalSecretsStore" not in planned("dev").outputs


def test_a_component_alone_plans_on_that_platforms_outputs() -> None:
    """LakeFS alone needs `externalSecretsStore`: refused on dev's outputs, planned on those of dev with the other
    stack's operator listed."""
    from mlops_infra.plan import plan_program

    without_operator("lakefs")  # refused (tests/platform/test_external_secrets_alone.py)
    outputs = planned_variant("dev", cluster=ELSEWHERE).outputs
    assert outputs["externalSecretsStore"] == STORE
    inv = plan_program(EXAMPLES / "lakefs", "dev", stack_refs={PLATFORM_STACK: outputs})
    assert inv.of_type(EXTERNAL_SECRET)


def test_no_fix_text_names_a_config_the_platform_refuses() -> None:
    """The refusal of a component alone names both ways to export the store; with the operator listed elsewhere, the
    platform's own operator is refused with the way that works (and that way plans: test above)."""
    message = str(without_operator("lakefs"))
    assert PLATFORM_PRODUCERS["external_secrets_store"] in message
    assert f"externalSecrets in {KEY} with {STORE_KEY}" in message
    prod = with_elsewhere("prod", {"externalSecrets": OWNER}, cluster={})
    prod["cluster"]["externalSecretsStore"] = STORE
    with pytest.raises(ConfigError) as info:
        load_platform_config(prod)  # prod installs its own operator (securityBaseline.externalSecrets, default on)
    [problem] = [p for p in info.value.problems if p.startswith(f"{KEY}.externalSecrets")]
    assert f"set securityBaseline.externalSecrets false and name the other stack's ClusterSecretStore in {STORE_KEY}" \
        in problem
    prod["securityBaseline"] = {**prod.get("securityBaseline", {}), "externalSecrets": False}
    assert "externalSecrets" in load_platform_config(prod).cluster.add_ons_elsewhere  # following it loads


@pytest.mark.parametrize("component", ["lakefs", "qdrant", "orchestration"])
def test_the_platforms_own_refusals_name_the_other_stacks_operator_too(component: str) -> None:
    """dev has no operator: each component that needs one is refused with both ways, the second of which loads."""
    sections = {"lakefs": {"data": {"lakefs": {"enabled": True}}}, "qdrant": {"data": {"qdrant": {"enabled": True}}},
                "orchestration": {"orchestration": {"prefect": {"enabled": True}}}}[component]
    raw = raw_config("dev")
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    assert any(f"list externalSecrets in {KEY} and name its ClusterSecretStore in {STORE_KEY}" in p
               for p in info.value.problems), info.value.problems
    raw["cluster"] = {**raw["cluster"], **ELSEWHERE}
    load_platform_config(raw)


def test_the_security_baseline_examples_store_round_trips_into_the_platforms_config() -> None:
    """examples/security_baseline installs an operator and exports its ClusterSecretStore (review of components
    alone, finding 6): that value in cluster.externalSecretsStore loads, the platform (which syncs its components'
    Secrets through that operator) exports it, and a component alone plans on those outputs."""
    from mlops_infra.plan import plan_program
    from tests.test_examples import plan

    owner = plan("security_baseline", "dev")
    store = owner.outputs["externalSecretsStore"]
    assert {r.inputs["metadata"]["name"] for r in owner.of_type(CLUSTER_SECRET_STORE)} == {store}
    inv = planned_variant("dev", cluster={"addOnsInstalledElsewhere": {"externalSecrets": SB_OWNER},
                                          "externalSecretsStore": store}, data={"lakefs": {"enabled": True}})
    assert inv.outputs["externalSecretsStore"] == store
    assert inv.of_type(EXTERNAL_SECRET) and "external-secrets" not in {r.inputs.get("chart") for r in inv.of_type(RELEASE)}
    assert plan_program(EXAMPLES / "lakefs", "dev", stack_refs={PLATFORM_STACK: inv.outputs}).of_type(EXTERNAL_SECRET)


def test_the_store_key_names_the_api_version_the_platforms_custom_resources_use() -> None:
    """The other stack's operator must serve what the platform writes (finding 10)."""
    from mlops_infra.compute.config import ClusterConfig

    versions = {r.type.split(":")[1] for r in with_components().resources
                if r.type.startswith("kubernetes:external-secrets.io/")}
    (version,) = each(versions)
    assert f"`{version}`" in str(ClusterConfig.model_fields["external_secrets_store"].description)
