"""Which stack runs this program, and whether a stack name names it (the owner of a cluster add-on:
blocks/cluster_add_ons.py, the platform's `clusterAddOnOwners` output)."""

from __future__ import annotations

import pulumi


def this_stack() -> str:
    """The stack running this program, fully qualified (`<organization>/<project>/<stack>`; `<project>/<stack>`
    when the engine knows no organization)."""
    org = pulumi.get_organization()
    return "/".join([*([org] if org else []), pulumi.get_project(), pulumi.get_stack()])


def is_this_stack(owner: str) -> bool:
    """`owner` names the stack running this program: `<project>/<stack>` when project and stack are this program's
    (any organization), `<organization>/<project>/<stack>` when all three are (never when the engine knows no
    organization)."""
    parts = owner.split("/")
    here = [pulumi.get_organization() or None, pulumi.get_project(), pulumi.get_stack()]
    return len(parts) in (2, 3) and parts == here[3 - len(parts):]
