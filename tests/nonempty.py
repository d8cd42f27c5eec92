"""`each(xs)`: the items of a "for each X" check, after asserting there is at least one (a loop over nothing
asserts nothing, and passes). tests/test_nonempty_audit.py finds the loops that need it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def each(items: Iterable[T]) -> list[T]:
    """`items` as a list; fails when it is empty."""
    found = list(items)
    assert found, "a 'for each' check found nothing to check"
    return found
