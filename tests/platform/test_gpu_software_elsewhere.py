"""GPU software another stack installed (review of components alone, finding 3): the platform cannot see what that
stack's device plugin tolerates, so it refuses GPU pools this library's GpuSoftware would not serve by default (a
taint other than the ones it tolerates, `efa: true`) unless `cluster.gpuSoftwareElsewhereServes` says that stack's
serves them, and its `teamWorkspace.gpuSoftware` output claims only what is known."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.config import ConfigError, versions
from mlops_infra.plan import Inventory
from mlops_infra.platform.add_ons_elsewhere import SERVES_KEY
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.platform.team_workspace import workspace_terms
from tests.conftest import planned_variant
from tests.nonempty import each
from tests.platform.test_add_ons_elsewhere import OWNER, RELEASE, raw_config, with_elsewhere
from tests.test_examples import plan

DEDICATED = {"key": "dedicated", "value": "ml"}
ELSEWHERE = {"gpuSoftware": OWNER}


def pools(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """dev's pools plus `extra`."""
    return [*raw_config("dev")["gpuPools"], *extra]


TAINTED = {"name": "tainted", "instanceTypes": ["g6.xlarge"], "maxSize": 2, "taint": DEDICATED}
EFA = {"name": "efa", "instanceTypes": ["p5.48xlarge"], "maxSize": 2, "efa": True}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    return list(info.value.problems)


def owners_tolerations(inv: Inventory) -> set[tuple[str, str]]:
    """(key, effect) of every toleration of the device plugin release the owning stack planned."""
    (release,) = [r for r in inv.of_type(RELEASE) if r.inputs.get("chart") == versions.DEVICE_PLUGIN.chart]
    return {(t["key"], t.get("effect", "")) for t in release.inputs["values"]["tolerations"]}


def test_pools_the_other_stacks_gpu_software_would_not_serve_are_refused_by_name() -> None:
    raw = with_elsewhere("dev", ELSEWHERE)
    raw["gpuPools"] = pools(TAINTED, EFA)
    (problem,) = [p for p in problems(raw) if p.startswith("gpuPools")]
    assert "'tainted' (taint dedicated:NoSchedule)" in problem and "'efa' (efa: true)" in problem
    assert SERVES_KEY in problem
    assert "'spot-g6'" not in problem  # dev's own pool: the default toleration serves it
    raw["cluster"] = {**raw["cluster"], "gpuSoftwareElsewhereServes": ["tainted", "efa"]}  # following the fix
    assert load_platform_config(raw).gpu_pools


def test_the_key_is_only_for_gpu_software_installed_elsewhere_and_its_pools() -> None:
    raw = raw_config("dev")
    raw["cluster"] = {**raw["cluster"], "gpuSoftwareElsewhereServes": ["spot-g6"]}
    assert [p.split(":")[0] for p in problems(raw)] == [SERVES_KEY]
    raw = with_elsewhere("dev", ELSEWHERE, cluster={"gpuSoftwareElsewhereServes": ["nope"]})
    assert [p for p in problems(raw) if p.startswith(SERVES_KEY)] == [
        f"{SERVES_KEY}: ['nope'] are not gpuPools of this platform"]


def test_the_workspace_terms_claim_only_what_the_owners_gpu_software_tolerates() -> None:
    """examples/cluster_addons (cpu) installs GpuSoftware for its own pools; a platform listing it as the owner
    exports tolerations that DaemonSet has, and no EFA plugin it does not install."""
    owner = plan("cluster_addons", "cpu")
    theirs = owners_tolerations(owner)
    efa_release = any(r.inputs.get("chart") == versions.EFA_PLUGIN.chart for r in owner.of_type(RELEASE))
    inv = planned_variant("dev", cluster={"addOnsInstalledElsewhere": ELSEWHERE})
    software = inv.outputs["teamWorkspace"]["gpuSoftware"]
    assert {(t["key"], t["effect"]) for t in each(software["tolerations"])} <= theirs
    assert software["efaPlugin"] == efa_release is False
    assert software["software"] is None  # the other stack's choice


def test_a_pool_listed_as_served_is_what_the_terms_add() -> None:
    raw = with_elsewhere("dev", ELSEWHERE, cluster={"gpuSoftwareElsewhereServes": ["tainted", "efa"]})
    raw["gpuPools"] = pools(TAINTED, EFA)
    software = workspace_terms(load_platform_config(raw))["gpuSoftware"]
    assert {"key": "dedicated", "effect": "NoSchedule"} in software["tolerations"]
    assert software["efaPlugin"] is True
