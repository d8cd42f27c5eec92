"""Who writes the egress guard of a guarded namespace (review of components alone, findings 1 and 2).

- A team workspace stack writes the platform teams' egress guard in its namespace; a namespace the platform does
  not list in `egressGuardedNamespaces` (not in its `cluster.workspaces`) is refused, so every namespace a component
  alone may grant is one the platform says is guarded.
- A component alone refused a grant to a guarded namespace is told to run `pulumi up` on the stack that writes that
  namespace's guard: the platform stack for its teams, then the workspace stack for a listed workspace
  (`egressGuardedWorkspaces`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.plan import Inventory, PlanError, plan_program
from tests.conftest import EXAMPLES, PROGRAMS, ROOT, planned, planned_variant
from tests.nonempty import each
from tests.platform.test_guarded_grants import prod_like
from tests.platform.test_standalone import PLATFORM_STACK

REF = "organization/mlops-platform/prod"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
GUARD = "allow-platform-egress"


def with_config(program: Path, stack: str, tmp: Path, section: str, **values: Any) -> Path:
    """A copy of `program` whose `section` of `Pulumi.<stack>.yaml` has `values` merged in."""
    copy = tmp / program.name
    shutil.copytree(program, copy)
    path = copy / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["config"][section] = {**doc["config"][section], **values}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return copy


def guards_in(inv: Inventory) -> set[str]:
    return {r.inputs["metadata"]["namespace"] for r in inv.of_type(NETPOL) if r.inputs["metadata"]["name"] == GUARD}


def workspace(tmp: Path, namespace: str) -> Path:
    """stacks/team-workspace with the prod stack of tests/programs/team_gpu, for `namespace`, with no credentials
    (what a namespace the platform does not list may ask for)."""
    copy = tmp / "team-workspace"
    shutil.copytree(ROOT / "stacks" / "team-workspace", copy)
    shutil.copy(PROGRAMS / "team_gpu" / "Pulumi.prod.yaml", copy)
    return with_config(copy, "prod", tmp / "with", "team:workspace", namespace=namespace,
                       credentials=[])


def test_a_workspace_writes_its_guard_only_where_the_platform_says_it_is_guarded(tmp_path: Path) -> None:
    outputs = planned("prod").outputs
    guarded = set(each(outputs["egressGuardedNamespaces"]))
    listed = plan_program(workspace(tmp_path / "a", "vision"), "prod", stack_refs={REF: outputs})
    assert guards_in(listed) == {"vision"} <= guarded
    assert "vision2" not in guarded
    with pytest.raises(PlanError) as err:
        plan_program(workspace(tmp_path / "b", "vision2"), "prod", stack_refs={REF: outputs})
    assert err.value.kind == "input", err.value  # a RefsError: exit 2
    assert "add 'vision2' to the platform's cluster.workspaces" in str(err.value)
    # Following the fix: the platform lists it, exports it as guarded, and the workspace plans.
    fixed = planned_variant("prod", cluster={"workspaces": ["vision", "vision2"]}).outputs
    assert "vision2" in fixed["egressGuardedNamespaces"]
    again = plan_program(workspace(tmp_path / "c", "vision2"), "prod", stack_refs={REF: fixed})
    assert guards_in(again) == {"vision2"}


def test_an_unguarded_platform_refuses_no_workspace(tmp_path: Path) -> None:
    outputs = {k: v for k, v in planned("prod").outputs.items() if k != "egressGuardedNamespaces"}
    outputs["teamWorkspace"] = {**outputs["teamWorkspace"], "egressRules": [{}]}
    inv = plan_program(workspace(tmp_path, "vision2"), "prod", stack_refs={REF: outputs})
    assert guards_in(inv) == {"vision2"}


def grant_refusal(tmp: Path, client: str) -> str:
    qdrant = with_config(EXAMPLES / "qdrant", "dev", tmp, "qdrant:qdrant", clientNamespaces=[client])
    with pytest.raises(PlanError) as err:
        plan_program(qdrant, "dev", stack_refs={PLATFORM_STACK: prod_like()})
    return str(err.value)


def test_a_refused_grant_names_the_stack_that_writes_the_clients_guard(tmp_path: Path) -> None:
    """The platform's plan writes the guard of its teams, the workspace program that of a listed workspace: the
    refusal names that stack, and only the workspace's names the workspace stack."""
    outputs = planned("prod").outputs
    platform_writes = guards_in(planned("prod"))
    assert set(outputs["egressGuardedWorkspaces"]) == set(each(outputs["egressGuardedNamespaces"])) - platform_writes
    for ns in each(sorted(outputs["egressGuardedNamespaces"])):
        message = grant_refusal(tmp_path / ns, ns)
        assert f"client namespace {ns!r} is held to default-deny egress" in message
        writer = f"the team workspace stack of namespace {ns!r}"
        if ns in platform_writes:
            assert "run `pulumi up` on the platform stack (it writes that namespace's guard)" in message
            assert writer not in message
        else:
            ws = plan_program(workspace(tmp_path / f"ws-{ns}", ns), "prod", stack_refs={REF: outputs})
            assert ns in guards_in(ws)
            assert f"run `pulumi up` on the platform stack, then on {writer}" in message
