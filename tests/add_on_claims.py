"""What a plan installs of the cluster-wide singletons (blocks/cluster_add_ons.ADD_ONS) on the platform's cluster:
the `claim`s a program's components make on the cluster it reaches through a StackReference (its provider
`platform-cluster`, as every example names it), recorded while it runs under the plan engine (in this process). A
cluster the program makes itself (examples/training_cluster) is its own, not the platform's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from mlops_infra.blocks import cluster_add_ons

T = TypeVar("T")
SHARED_PROVIDER = "platform-cluster"
"""The provider of the platform's cluster in the examples (`cluster_provider("platform-cluster", ...)`)."""
CLAIMS: dict[tuple[str, str], frozenset[str]] = {}
"""By (example directory name, stack): the add-ons its plan claimed on the platform's cluster, for the plans made
through `recorded`."""


@contextmanager
def recording() -> Iterator[set[str]]:
    """The add-ons claimed inside the block on the platform's cluster (`SHARED_PROVIDER`; filled when it ends):
    `claim` keeps them per provider in a weak map, swapped here for a plain one, so the providers a finished plan
    dropped still count."""
    found: set[str] = set()
    saved = cluster_add_ons._CLAIMED
    claimed: dict[object, dict[str, str]] = {}
    cluster_add_ons._CLAIMED = claimed  # type: ignore[assignment]
    try:
        yield found
    finally:
        cluster_add_ons._CLAIMED = saved
        found.update(a for provider, per_cluster in claimed.items() for a in per_cluster
                     if getattr(provider, "_name", None) == SHARED_PROVIDER)


def recorded(key: tuple[str, str], run: Callable[[], T]) -> T:
    """`run()` (a plan), with the add-ons it claims kept in `CLAIMS[key]`."""
    with recording() as found:
        result = run()
    CLAIMS[key] = frozenset(found)
    return result
