"""Work the offline plan does not need, switched off for the duration of one plan and restored afterwards.

Measured with benchmarks/bench.py and cProfile on the prod plan (see the README's Performance section):
- **Stack traces.** For every resource, the SDK walks the Python stack and turns every frame above the resource's
  constructor into a `file://` URI (pulumi 3.272.0, pulumi/runtime/resource.py `_get_stack_trace`, called from
  `register_resource` and `read_resource`). The engine shows them in diagnostics; the mock monitor never reads
  `sourcePosition` or `stackTrace`. Components nest deep, so this is ~7,000 frames for the prod plan.
- **Garbage collection.** A plan allocates hundreds of thousands of short-lived objects (Outputs, futures, protobuf
  messages) over a heap of SDK classes that live until exit. The default gen0 threshold (700) triggers ~900
  collections, each also walking young survivors; gen2 collections walk the whole heap. The heap that exists before
  the plan (imported modules and classes) is frozen, and collections are made rarer while the program runs.
  Reference cycles are still collected, only less often; memory stays bounded by the larger gen0 threshold.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pulumi.runtime.resource as _sdk_resource
from pulumi.runtime.proto import source_pb2

PLAN_GC_THRESHOLD = (20_000, 20, 20)
"""gc thresholds while a plan runs (CPython's default is (700, 10, 10))."""

STACK_TRACE_HOOK = "_get_stack_trace"
"""The SDK function replaced during a plan; if an SDK upgrade renames it, plans stay correct, only slower."""


def _no_stack_trace() -> Any:
    return source_pb2.StackTrace()


@contextmanager
def lean_runtime() -> Iterator[None]:
    """Skip stack-trace capture and collect garbage less often while the body runs; restore both after."""
    original = getattr(_sdk_resource, STACK_TRACE_HOOK, None)
    threshold = gc.get_threshold()
    if original is not None:
        setattr(_sdk_resource, STACK_TRACE_HOOK, _no_stack_trace)
    gc.freeze()
    gc.set_threshold(*PLAN_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
        if original is not None:
            setattr(_sdk_resource, STACK_TRACE_HOOK, original)
