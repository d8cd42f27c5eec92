"""Day two of a cluster add-on a consumer stack installed (third review of issue 29, finding 1): after the platform
lists it in `cluster.addOnsInstalledElsewhere`, mapped to that stack, the platform's `clusterAddOns` carries it and
`clusterAddOnOwners` names its owner. The owning stack's next plan is the same plan (refusing it, or turning its
install off, would make Pulumi delete the add-on); any other stack is refused, told who owns it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mlops_infra.cli.main import main
from mlops_infra.config import ConfigError
from mlops_infra.plan import PlanError, plan_program
from mlops_infra.platform.add_ons_elsewhere import KEY
from mlops_infra.platform.loader import load_platform_config
from tests.add_on_claims import CLAIMS, recording
from tests.conftest import EXAMPLES
from tests.nonempty import each
from tests.platform.test_add_ons_elsewhere import with_elsewhere
from tests.test_examples import cases, plan, platform_outputs

OTHER = "organization/another-team/prod"


def installing() -> list[tuple[str, str]]:
    """Each example stack whose plan installs a cluster add-on on the platform's cluster (what its components claim)."""
    found = []
    for example, stack in cases():
        plan(example, stack)
        if CLAIMS[(example, stack)]:
            found.append((example, stack))
    return found


def listed(example: str, stack: str, owner: str) -> tuple[str, dict[str, object]]:
    """The example's platform outputs after the platform lists what the example installs, owned by `owner`."""
    reference, outputs = platform_outputs(example, stack)
    add_ons, owners = outputs["clusterAddOns"], outputs["clusterAddOnOwners"]
    assert isinstance(add_ons, list) and isinstance(owners, dict)
    mine = CLAIMS[(example, stack)]
    assert not mine & set(add_ons)  # the platform did not run them before
    return reference, {**outputs, "clusterAddOns": sorted({*add_ons, *mine}),
                       "clusterAddOnOwners": {**owners, **dict.fromkeys(mine, owner)}}


def project(example: str) -> str:
    name: str = yaml.safe_load((EXAMPLES / example / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    return name


def test_the_examples_that_install_an_add_on_include_the_documented_ones() -> None:
    found = each(installing())
    assert {("cluster_addons", "dev"), ("model_serving", "dev")} <= set(found)
    assert CLAIMS[("model_serving", "dev")] == {"kserve"}
    assert CLAIMS[("cluster_addons", "dev")] == {"loadBalancerController"}


def test_the_owning_stack_plans_its_add_on_again_and_every_other_stack_is_refused() -> None:
    for example, stack in each(installing()):
        first = plan(example, stack)
        reference, outputs = listed(example, stack, f"organization/{project(example)}/{stack}")
        with recording() as again:
            inv = plan_program(EXAMPLES / example, stack, stack_refs={reference: outputs})
        assert again == CLAIMS[(example, stack)]
        assert {r.urn for r in inv} == {r.urn for r in first}, example  # the same plan: nothing to delete
        reference, outputs = listed(example, stack, OTHER)
        with pytest.raises(PlanError) as err:
            plan_program(EXAMPLES / example, stack, stack_refs={reference: outputs})
        assert err.value.kind == "input", err.value  # a RunError: the message alone, exit 2
        assert f"installed by stack {OTHER!r} (`clusterAddOnOwners`), not this one " \
               f"('organization/{project(example)}/{stack}')" in str(err.value)


def test_an_owner_without_organization_matches_project_and_stack() -> None:
    """An older platform's outputs may carry `<project>/<stack>` (config now refuses it: test below): still read."""
    plan("model_serving", "dev")  # what it claims (CLAIMS)
    reference, outputs = listed("model_serving", "dev", "model_serving/dev")
    assert plan_program(EXAMPLES / "model_serving", "dev", stack_refs={reference: outputs}).of_type(
        "kubernetes:helm.sh/v3:Release")
    reference, outputs = listed("model_serving", "dev", "model_serving/prod")
    with pytest.raises(PlanError, match="installed by stack 'model_serving/prod'"):
        plan_program(EXAMPLES / "model_serving", "dev", stack_refs={reference: outputs})


def test_a_two_part_owner_is_refused_with_the_fully_qualified_name_its_owner_plans_under() -> None:
    """`<a>/<b>` is `<organization>/<stack>` on Pulumi Cloud (review of components alone, finding 7): config refuses
    it, and the name its fix gives (here the plan engine's organization, a self-managed backend's) lets the owning
    stack plan its add-on again once the platform exports it."""
    two_part = f"{project('model_serving')}/dev"
    with pytest.raises(ConfigError) as info:
        load_platform_config(with_elsewhere("dev", {"kserve": two_part}))
    (problem,) = [p for p in info.value.problems if p.startswith(f"{KEY}.kserve")]
    assert "ambiguous" in problem
    fixes = re.findall(r"\((organization/\S+) on a self-managed backend\)", problem)
    assert fixes == [f"organization/{two_part}"]
    assert not [p for p in problems_of(with_elsewhere("dev", {"kserve": fixes[0]})) if p.startswith(KEY)]
    plan("model_serving", "dev")
    reference, outputs = listed("model_serving", "dev", fixes[0])
    assert plan_program(EXAMPLES / "model_serving", "dev", stack_refs={reference: outputs}).of_type(
        "kubernetes:helm.sh/v3:Release")


def problems_of(raw: dict[str, object]) -> list[str]:
    try:
        load_platform_config(raw)
    except ConfigError as err:
        return list(err.problems)
    return []


def test_an_add_on_listed_with_no_owner_tells_its_owner_what_the_platform_must_say() -> None:
    """The list form (before owners): the owning stack is refused too, told the map entry that lets it through."""
    plan("model_serving", "dev")
    reference, outputs = listed("model_serving", "dev", "")
    outputs["clusterAddOnOwners"] = {k: v for k, v in outputs["clusterAddOnOwners"].items() if v}  # type: ignore[union-attr]
    with pytest.raises(PlanError) as err:
        plan_program(EXAMPLES / "model_serving", "dev", stack_refs={reference: outputs})
    assert "its owner is not recorded (`clusterAddOnOwners` lacks it" in str(err.value)
    assert "`cluster.addOnsInstalledElsewhere: {kserve: organization/model_serving/dev}`" in str(err.value)


def test_the_cli_prints_an_add_on_refusal_alone_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As every other refusal of a program's input (a RefsError, a config error): exit 2, one message, no
    traceback and no program line."""
    plan("model_serving", "dev")
    reference, outputs = listed("model_serving", "dev", OTHER)
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({reference: outputs}), encoding="utf-8")
    code = main(["plan", "--stack", "dev", "--no-render", "--program", str(EXAMPLES / "model_serving"),
                 "--stack-refs", str(refs)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("mlops-infra: error: search-serving: the cluster already runs KServe"), err
    assert "Traceback" not in err and " (at " not in err and err.count("\n") == 1
