"""Work the offline plan does not need, switched off for the duration of one plan and restored afterwards.

Measured with benchmarks/bench.py and cProfile on the prod plan (see the README's Performance section):
- **Stack traces.** For every resource, the SDK walks the Python stack and turns every frame above the resource's
  constructor into a `file://` URI (pulumi 3.272.0, pulumi/runtime/resource.py `_get_stack_trace`, called from
  `register_resource` and `read_resource`). Components nest deep, so this is ~7,000 frames for the prod plan. The
  plan keeps one frame per resource instead, the registration site (`sourcePosition`), which SARIF results point at.
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

from .frames import caller_outside

PLAN_GC_THRESHOLD = (20_000, 20, 20)
"""gc thresholds while a plan runs (CPython's default is (700, 10, 10))."""

STACK_TRACE_HOOK = "_get_stack_trace"
"""The SDK function replaced during a plan; if an SDK upgrade renames it, plans stay correct, only slower."""


_HELPERS = frozenset({"mlops_infra.blocks.helm"})
"""Helpers every chart goes through (`pinned_release`): the component that calls one, with its values, is the line a
person changes, so the registration site is taken past them."""


def _registration_site() -> Any:
    """One frame instead of the SDK's whole trace: the nearest caller that is the user's (`plan.frames`: not the
    Pulumi SDKs, the plan engine, the stdlib or an installed package), i.e. the program's (or a checked-out
    component's) line that constructed the resource; with mlops-infra installed, the user's line that called into
    it. The SDK sends it as the request's `sourcePosition` (its first frame), where the recording monitor reads it
    (SARIF locations)."""
    found = caller_outside(_HELPERS)
    if found is None:
        return source_pb2.StackTrace()
    position = source_pb2.SourcePosition(uri=found[0], line=found[1])
    return source_pb2.StackTrace(frames=[source_pb2.StackFrame(pc=position)])


@contextmanager
def lean_runtime() -> Iterator[None]:
    """Capture one registration frame instead of the whole stack, and collect garbage less often while the body
    runs; restore both after."""
    original = getattr(_sdk_resource, STACK_TRACE_HOOK, None)
    threshold = gc.get_threshold()
    if original is not None:
        setattr(_sdk_resource, STACK_TRACE_HOOK, _registration_site)
    gc.freeze()
    gc.set_threshold(*PLAN_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
        if original is not None:
            setattr(_sdk_resource, STACK_TRACE_HOOK, original)
