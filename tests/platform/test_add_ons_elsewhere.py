"""`cluster.addOnsInstalledElsewhere`: add-ons a consumer stack installed on the platform's cluster. The platform
lists them in `clusterAddOns` (so no other consumer installs them again) and refuses config that would make it
install one itself; the add-ons its config installs are exactly what its components claim on the cluster."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.blocks.cluster_add_ons import ADD_ONS
from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.platform.add_ons_elsewhere import KEY, platform_add_ons
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import EXAMPLES, ROOT, planned
from tests.nonempty import each
from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs
from tests.test_examples import plan

STACKS = ["dev", "staging", "prod"]
KSERVE_RELEASE = "kubernetes:helm.sh/v3:Release"


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


def with_elsewhere(stack: str, add_ons: list[str]) -> dict[str, Any]:
    raw = raw_config(stack)
    raw["cluster"] = {**raw.get("cluster", {}), "addOnsInstalledElsewhere": add_ons}
    return raw


@pytest.mark.parametrize("stack", STACKS)
def test_what_config_says_the_platform_installs_is_what_its_components_claim(stack: str) -> None:
    claimed = planned(stack).outputs["clusterAddOns"]
    assert isinstance(claimed, list)
    assert set(installs(load_platform_config(raw_config(stack)))) == set(each(claimed))


@pytest.mark.parametrize("stack", STACKS)
def test_an_add_on_the_platform_installs_may_not_be_listed_as_installed_elsewhere(stack: str) -> None:
    paths = installs(load_platform_config(raw_config(stack)))
    for add_on in each(sorted(paths)):
        with pytest.raises(ConfigError) as info:
            load_platform_config(with_elsewhere(stack, [add_on]))
        [problem] = [p for p in info.value.problems if p.startswith(f"{KEY}[0]")]
        assert repr(add_on) in problem and paths[add_on] in problem, problem


def test_serving_on_with_kserve_installed_elsewhere_is_refused_naming_both() -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config(with_elsewhere("prod", ["kserve"]))
    assert [p for p in info.value.problems if p.startswith(KEY)] == [
        f"{KEY}[0]: 'kserve' is installed by another stack, but serving.enabled makes the platform install it too (a "
        "second install collides: Helm 'cannot re-use a name', AlreadyExists): turn serving.enabled off, or remove "
        f"'kserve' from {KEY}"]


def test_only_known_add_ons_once_each() -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config(with_elsewhere("dev", ["kserve", "kserve", "istio"]))
    assert sorted(p for p in info.value.problems if p.startswith(KEY)) == [
        f"{KEY}[1]: duplicate add-on 'kserve'",
        f"{KEY}[2]: unknown add-on 'istio' (one of {', '.join(ADD_ONS)})"]


def test_the_platform_lists_add_ons_installed_elsewhere_in_its_outputs(tmp_path: Path) -> None:
    """dev installs neither KServe nor the controller: listed, its outputs say the cluster runs both, so a consumer's
    ModelServing or LoadBalancerController refuses a second install (blocks/cluster_add_ons.claim)."""
    dev = planned("dev").outputs
    assert isinstance(dev["clusterAddOns"], list)
    assert not {"kserve", "loadBalancerController"} & set(dev["clusterAddOns"])
    assert dev["loadBalancerController"] is False
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    stack_file = tmp_path / "stacks" / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    stack["config"]["mlops:platform"] = with_elsewhere("dev", ["kserve", "loadBalancerController"])
    stack_file.write_text(yaml.safe_dump(stack), encoding="utf-8")
    outputs = plan_program(tmp_path, "dev").outputs
    assert outputs["clusterAddOns"] == sorted({*dev["clusterAddOns"], "kserve", "loadBalancerController"})
    assert outputs["loadBalancerController"] is True


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
