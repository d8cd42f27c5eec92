"""A list of values that components contribute to while the program runs, readable as one Output before it is
complete (e.g. every data bucket of the platform, for the audit trail and the S3 endpoint policy, which are built
before the add-ons that create more buckets).

The Output resolves when `close()` is called; a program that never calls it would wait forever, so the owner
closes it in a `finally` right after the last contributor ran.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

import pulumi

T = TypeVar("T")


class LateList(Generic[T]):
    def __init__(self, initial: list[pulumi.Input[T]] | None = None) -> None:
        self._items: list[pulumi.Input[T]] = list(initial or [])
        self._closed = False
        self._future: asyncio.Future[list[pulumi.Input[T]]] = asyncio.get_event_loop().create_future()
        # Output.all unwraps the contributed Outputs (and keeps their resources as dependencies).
        pending: pulumi.Output[list[pulumi.Input[T]]] = pulumi.Output.from_input(self._future)
        self.output: pulumi.Output[list[T]] = pulumi.Output.all(pending).apply(
            lambda resolved: pulumi.Output.all(*resolved[0]))

    def add(self, item: pulumi.Input[T]) -> None:
        if self._closed:
            raise ValueError("LateList.add after close(): the Output has already resolved without this item")
        self._items.append(item)

    def close(self) -> None:
        """Resolve `output` with everything added so far. Idempotent."""
        if not self._closed:
            self._closed = True
            self._future.set_result(list(self._items))
