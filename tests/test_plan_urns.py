"""URNs and aliases as the Pulumi engine computes them (issue 26), on a small program and on hand-made records.

The engine's rule (pkg/resource/deploy/deployment.go `generateURN`, sdk/go/common/resource/urn/urn.go `New`):
`urn:pulumi:<stack>::<project>::<type>::<name>`, where a child's type is its parent's whole qualified type, `$`,
its own type, and a child of the root stack carries no `pulumi:pulumi:Stack$`.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.plan import ResourceRecord, plan_program
from mlops_infra.plan.urns import engine_urn, resolve_aliases
from tests.conftest import PROGRAMS

PREFIX = "urn:pulumi:s::p"


def test_a_resource_three_components_deep_has_the_engines_urn() -> None:
    inv = plan_program(PROGRAMS / "engine_parity", "nested")
    bucket = inv.named("deep")
    assert bucket.urn == ("urn:pulumi:nested::engine_parity::"
                          "demo:boxes:Outer$demo:boxes:Middle$demo:boxes:Inner$aws:s3/bucket:Bucket::deep")
    assert bucket.parent == "urn:pulumi:nested::engine_parity::demo:boxes:Outer$demo:boxes:Middle$demo:boxes:Inner::inner"
    assert inv.named("outer").urn == "urn:pulumi:nested::engine_parity::demo:boxes:Outer::outer"


def test_engine_urn_omits_the_root_stack_and_keeps_the_whole_chain() -> None:
    stack = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
    top = engine_urn("s", "p", stack, "a:b:C", "c")
    assert top == f"{PREFIX}::a:b:C::c"
    assert engine_urn("s", "p", engine_urn("s", "p", top, "a:b:D", "d"), "a:b:E", "e") == f"{PREFIX}::a:b:C$a:b:D$a:b:E::e"


def _rec(type_: str, name: str, parent: ResourceRecord | None = None, aliases: list[Any] | None = None,
         ) -> ResourceRecord:
    urn = engine_urn("s", "p", parent.urn if parent else "", type_, name)
    return ResourceRecord(urn=urn, type=type_, name=name, parent=parent.urn if parent else None, custom=False,
                          id=None, inputs={}, options={"aliases": aliases or []})


def test_a_child_inherits_the_alias_its_parent_matched_with_its_name_re_prefixed() -> None:
    """`inheritedChildAlias`: parent `new` (aliased to its old name `old`), child `new-db` -> `old-db` under the
    parent's old URN."""
    parent = _rec("a:b:Comp", "new", aliases=[{"name": "old"}])
    child = _rec("aws:rds/instance:Instance", "new-db", parent)
    olds = {f"{PREFIX}::a:b:Comp::old", f"{PREFIX}::a:b:Comp$aws:rds/instance:Instance::old-db"}
    resolution = resolve_aliases([child, parent], olds)
    assert resolution.matched == {parent.urn: f"{PREFIX}::a:b:Comp::old",
                                  child.urn: f"{PREFIX}::a:b:Comp$aws:rds/instance:Instance::old-db"}
    assert resolution.problems == []


def test_only_the_alias_the_parent_matched_is_inherited() -> None:
    """The engine keeps one matched alias per resource (`sg.aliases`), not every alias it declared."""
    parent = _rec("a:b:Comp", "new", aliases=[{"name": "gone"}, {"name": "old"}])
    child = _rec("a:b:Leaf", "new-x", parent)
    olds = {f"{PREFIX}::a:b:Comp::old", f"{PREFIX}::a:b:Comp$a:b:Leaf::gone-x"}
    assert resolve_aliases([parent, child], olds).answered() == {f"{PREFIX}::a:b:Comp::old"}


def test_an_alias_spec_with_a_parent_urn_and_two_claims_on_one_old_urn() -> None:
    owner = _rec("a:b:Owner", "owner")
    old = f"{PREFIX}::a:b:Legacy$a:b:Rule::rule"
    first = _rec("a:b:Rule", "rule-a", owner, aliases=[{"name": "rule", "parentUrn": f"{PREFIX}::a:b:Legacy::legacy"}])
    second = _rec("a:b:Rule", "rule-b", owner, aliases=[old])
    resolution = resolve_aliases([owner, first, second], {old})
    assert resolution.matched == {first.urn: old, second.urn: old}  # the engine matches both, then refuses the plan
    assert resolution.problems == [f"{second.urn}: alias {old} was already claimed by {first.urn}"]
