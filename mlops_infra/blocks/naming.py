"""Naming and option conventions: child names derive from the component's name and never change."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def child(name: str, suffix: str) -> str:
    """`child("prod-mlflow", "db")` -> `prod-mlflow-db`. Released names must stay stable; add aliases if not."""
    return f"{name}-{suffix}"


def truncate_name(name: str, limit: int = 63) -> str:
    """Cut `name` to at most `limit` characters without a trailing `-` (or `.`/`_`).

    Kubernetes DNS-1123 labels (63) and SageMaker names (`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`) must end in an
    alphanumeric; a plain `name[:63]` can end in `-` when the cut falls on a separator. Deterministic, so a
    released name never changes when it was already short enough.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1 (got {limit})")
    cut = name[:limit].rstrip("-._")
    if not cut:
        raise ValueError(f"{name!r} has no alphanumeric character within the first {limit}")
    return cut


def child_options(
    parent: pulumi.Resource,
    *,
    stateful: bool = False,
    protect: bool = False,
    depends_on: Sequence[pulumi.Resource] | None = None,
    ignore_changes: Sequence[str] | None = None,
    provider: pulumi.ProviderResource | None = None,
    delete_before_replace: bool | None = None,
) -> pulumi.ResourceOptions:
    """Child options: always `parent`; `protect` and `retain_on_delete` together for stateful resources."""
    guard = stateful and protect
    return pulumi.ResourceOptions(
        parent=parent,
        protect=guard or None,
        retain_on_delete=guard or None,
        depends_on=list(depends_on) if depends_on else None,
        ignore_changes=list(ignore_changes) if ignore_changes else None,
        provider=provider,
        delete_before_replace=delete_before_replace,
    )
