"""plan/literals.py: which leaves of a value the program passed as plain literals (paths only)."""

from __future__ import annotations

import pulumi

from mlops_infra.plan.literals import literal_leaves


def test_literal_leaves_are_json_pointers_to_plain_values() -> None:
    secret = pulumi.Output.secret("x")
    assert literal_leaves({"password": "hunter2", "user": secret, "empty": "", "none": None,
                           "a/b": {"c~d": ["v", secret]}}) == ["/password", "/a~1b/c~0d/0"]
    assert literal_leaves("hunter2") == [""]
    assert literal_leaves(secret) == []
    assert literal_leaves(pulumi.Output.from_input({"k": "v"})) == []


def test_awaitables_are_not_literals() -> None:
    async def later() -> str:
        return "v"

    pending = later()
    try:
        assert literal_leaves({"k": pending}) == []
    finally:
        pending.close()
