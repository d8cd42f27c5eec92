"""`cluster.addOnsInstalledElsewhere`: add-ons a consumer stack installed on the platform's cluster, each mapped to
its owning stack. The platform lists them in `clusterAddOns` and their owners in `clusterAddOnOwners` (so no other
consumer installs them again, and the owner keeps its own), uses the GPU software and KServe listed there instead of
installing its own, and refuses config that would make it install any other one itself, saying how to turn its own
off; the add-ons its config installs are exactly what its components claim on the cluster."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mlops_infra.blocks.cluster_add_ons import ADD_ONS
from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.platform.add_ons_elsewhere import KEY, TURN_OFF, USED_FROM_ELSEWHERE, platform_add_ons
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import EXAMPLES, ROOT, planned, planned_variant
from tests.nonempty import each
from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs
from tests.test_examples import plan

STACKS = ["dev", "staging", "prod"]
KSERVE_RELEASE = RELEASE = "kubernetes:helm.sh/v3:Release"
GPU_SOFTWARE = "mlops:compute:GpuSoftware"
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def raw_example(example: str, stack: str = "dev") -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((EXAMPLES / example / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return found


def raw_config(stack: str) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))[
        "config"]["mlops:platform"]
    return found


def installs(config: PlatformConfig) -> dict[str, str]:
    return platform_add_ons(config.cluster, config.gpu, config.gpu_pools, config.monitoring,
                            config.security_baseline, config.serving, config.orchestration)


OWNER = "organization/cluster_addons/dev"
"""A consumer stack that installed add-ons (the examples' project, on a self-managed backend)."""


def with_elsewhere(stack: str, add_ons: list[str] | dict[str, str], **sections: dict[str, Any]) -> dict[str, Any]:
    """`stack`'s `mlops:platform` listing `add_ons` as installed elsewhere, with `sections` merged in."""
    raw = raw_config(stack)
    raw["cluster"] = {**raw.get("cluster", {}), "addOnsInstalledElsewhere": add_ons}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return raw


@pytest.mark.parametrize("stack", STACKS)
def test_what_config_says_the_platform_installs_is_what_its_components_claim(stack: str) -> None:
    claimed = planned(stack).outputs["clusterAddOns"]
    assert isinstance(claimed, list)
    assert set(installs(load_platform_config(raw_config(stack)))) == set(each(claimed))


@pytest.mark.parametrize("stack", STACKS)
def test_an_add_on_the_platform_installs_may_not_be_listed_as_installed_elsewhere(stack: str) -> None:
    """...except the GPU software and KServe, which the platform then uses (test below); the refusal names both
    configs and how to turn the platform's own install off."""
    paths = installs(load_platform_config(raw_config(stack)))
    for add_on in each(sorted(a for a in paths if a not in USED_FROM_ELSEWHERE)):
        with pytest.raises(ConfigError) as info:
            load_platform_config(with_elsewhere(stack, {add_on: OWNER}))
        [problem] = [p for p in info.value.problems if p.startswith(f"{KEY}.{add_on}:")]
        assert repr(add_on) in problem and paths[add_on] in problem and TURN_OFF[add_on] in problem, problem


@pytest.mark.parametrize(("add_on", "fix", "sections"), [
    ("kubeflowTrainer", "set cluster.trainingOperator.kind none", {"cluster": {"trainingOperator": {"kind": "none"}}}),
    ("monitoring", "set monitoring.enabled false", {"monitoring": {"enabled": False}}),
], ids=["training-operator", "monitoring"])
def test_the_fix_text_names_a_config_that_turns_the_install_off(
        add_on: str, fix: str, sections: dict[str, dict[str, Any]]) -> None:
    """The fix a refusal names is a real value of a real key: following it, the same listing loads and the platform
    no longer installs the add-on (e.g. the training operator's `kind: none`; the key has no `off`)."""
    with pytest.raises(ConfigError) as info:
        load_platform_config(with_elsewhere("dev", {add_on: OWNER}))
    assert any(fix in p for p in info.value.problems), info.value.problems
    cluster = sections.pop("cluster", {})
    raw = with_elsewhere("dev", {add_on: OWNER}, **sections)
    raw["cluster"] = {**raw["cluster"], **cluster}
    assert add_on not in installs(load_platform_config(raw))


def test_an_owner_is_a_stack_name() -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config(with_elsewhere("dev", {"kserve": "the serving team"}))
    assert [p for p in info.value.problems if p.startswith(KEY)] == [
        f"{KEY}.kserve: 'the serving team' is not a stack: name the stack that installed 'kserve' fully qualified, "
        "<organization>/<project>/<stack> (a self-managed backend's organization is `organization`, e.g. "
        "organization/model_serving/dev)"]


def test_only_known_add_ons_once_each() -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config(with_elsewhere("dev", ["kserve", "kserve", "istio"]))
    assert sorted(p for p in info.value.problems if p.startswith(KEY)) == [
        f"{KEY}[1]: duplicate add-on 'kserve'",
        f"{KEY}[2]: unknown add-on 'istio' (one of {', '.join(ADD_ONS)})"]


def test_the_platform_lists_add_ons_installed_elsewhere_and_their_owners_in_its_outputs() -> None:
    """dev installs neither KServe nor the controller: listed, its outputs say the cluster runs both and which stack
    owns each, so a consumer's ModelServing or LoadBalancerController refuses a second install unless it is that stack
    (blocks/cluster_add_ons.claim). Its own installs are its own stack's."""
    dev = planned("dev").outputs
    assert isinstance(dev["clusterAddOns"], list)
    assert not {"kserve", "loadBalancerController"} & set(dev["clusterAddOns"])
    assert dev["loadBalancerController"] is False
    assert dev["clusterAddOnOwners"] == dict.fromkeys(each(dev["clusterAddOns"]), "organization/mlops-platform/dev")
    elsewhere = {"kserve": "organization/model_serving/dev", "loadBalancerController": OWNER}
    outputs = planned_variant("dev", cluster={"addOnsInstalledElsewhere": elsewhere}).outputs
    assert outputs["clusterAddOns"] == sorted({*dev["clusterAddOns"], *elsewhere})
    assert outputs["clusterAddOnOwners"] == {**dev["clusterAddOnOwners"], **elsewhere}
    assert outputs["loadBalancerController"] is True


def test_the_list_form_is_still_read_with_no_owner() -> None:
    """The form before owners: listed in `clusterAddOns`, absent from `clusterAddOnOwners` (unknown: its owning
    stack is refused too, with the map to write: tests/platform/test_add_on_owners.py)."""
    dev = planned("dev").outputs
    outputs = planned_variant("dev", cluster={"addOnsInstalledElsewhere": ["kserve"]}).outputs
    assert outputs["clusterAddOns"] == sorted({*dev["clusterAddOns"], "kserve"})
    assert outputs["clusterAddOnOwners"] == dev["clusterAddOnOwners"]


def test_the_platform_uses_the_gpu_software_and_kserve_another_stack_installed() -> None:
    """staging serves models on GPU pools: with both listed elsewhere it installs neither (no GpuSoftware, no
    KServe or cert-manager release or namespace) and still makes its pools, runtimes and InferenceServices."""
    own = planned("staging")
    assert {"gpuSoftware", "kserve"} <= set(own.outputs["clusterAddOns"])
    elsewhere = dict.fromkeys(["gpuSoftware", "kserve"], OWNER)
    inv = planned_variant("staging", cluster={"addOnsInstalledElsewhere": elsewhere})
    assert own.of_type(GPU_SOFTWARE) and not inv.of_type(GPU_SOFTWARE)
    theirs = {"cert-manager", "oci://ghcr.io/kserve/charts/kserve-crd", "oci://ghcr.io/kserve/charts/kserve-resources",
              "nvidia-device-plugin"}
    assert theirs <= {r.inputs.get("chart") for r in own.of_type(RELEASE)}
    assert not theirs & {r.inputs.get("chart") for r in inv.of_type(RELEASE)}
    assert len(inv.of_type(ISVC)) == len(each(own.of_type(ISVC)))
    assert len(inv.of_type(NODE_GROUP)) == len(each(own.of_type(NODE_GROUP)))
    assert not {"kserve", "cert-manager", "gpu-system"} & set(inv.outputs["platformNamespaces"])
    assert inv.outputs["clusterAddOnOwners"]["kserve"] == OWNER
    assert inv.outputs["clusterAddOnOwners"]["gpuSoftware"] == OWNER


# --- the examples: installing a singleton is the stack's explicit choice, checked against the platform's outputs ---

def serving_alone(**outputs: object) -> Inventory:
    return plan_program(EXAMPLES / "model_serving", "dev",
                        stack_refs={PLATFORM_STACK: platform_outputs(**outputs)})


def test_model_serving_alone_installs_kserve_only_by_choice_and_never_twice() -> None:
    add_ons = platform_outputs()["clusterAddOns"]
    assert isinstance(add_ons, list) and "kserve" not in add_ons
    assert raw_example("model_serving")["config"]["model_serving:installController"] is True  # a documented choice
    assert serving_alone().of_type(KSERVE_RELEASE)
    with pytest.raises(PlanError, match=r"search-serving: .*`kserve`"):
        serving_alone(clusterAddOns=[*add_ons, "kserve"])  # the platform lists it (cluster.addOnsInstalledElsewhere)


def test_model_serving_alone_takes_metrics_server_from_the_platform() -> None:
    with pytest.raises(PlanError, match="search-serving: "):
        serving_alone(metricsServer=False)


def test_cluster_addons_installs_what_its_stack_names() -> None:
    for stack in each(["dev", "cpu"]):
        named = raw_example("cluster_addons", stack)["config"]["cluster_addons:install"]
        assert plan("cluster_addons", stack).outputs["installed"] == named
