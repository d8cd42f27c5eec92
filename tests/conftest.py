"""Shared fixtures: the repository root and a plan cache so each stack is planned once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_infra.plan import Inventory, plan_program

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"

_PLANS: dict[str, Inventory] = {}


def planned(stack: str) -> Inventory:
    """The root program planned for `stack` (cached: plans are deterministic)."""
    if stack not in _PLANS:
        _PLANS[stack] = plan_program(ROOT, stack)
    return _PLANS[stack]


@pytest.fixture(scope="session")
def dev_plan() -> Inventory:
    return planned("dev")


@pytest.fixture(scope="session")
def staging_plan() -> Inventory:
    return planned("staging")


@pytest.fixture(scope="session")
def prod_plan() -> Inventory:
    return planned("prod")
