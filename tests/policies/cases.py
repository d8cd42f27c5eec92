"""A case: one policy, some resources, the exact messages expected ([] for a compliant input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from .helpers import R, messages


@dataclass
class Case:
    id: str
    policy: str
    resources: list[R]
    expected: list[str]
    env: str = "prod"
    config: dict[str, Any] = field(default_factory=dict)
    cites: tuple[str, ...] = ()
    """The cited ids this failing case exercises when its policy cites several scanner checks (test_citations.py);
    empty: it exercises the policy as a whole."""


def params(cases: list[Case]) -> Any:
    return pytest.mark.parametrize("case", cases, ids=[f"{c.policy}:{c.id}" for c in cases])


def check(case: Case) -> None:
    assert messages(case.policy, case.resources, env=case.env, config=case.config or None) == case.expected
