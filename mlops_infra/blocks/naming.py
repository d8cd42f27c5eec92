"""Naming and option conventions: child names derive from the component's name and never change."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pulumi


def child(name: str, suffix: str) -> str:
    """`child("prod-mlflow", "db")` -> `prod-mlflow-db`. Released names must stay stable; add aliases if not."""
    return f"{name}-{suffix}"


def retyped(opts: pulumi.ResourceOptions | None, released_type: str) -> pulumi.ResourceOptions:
    """`opts` plus `Alias(type_=released_type)`: a component whose type token changed (to `mlops:<concern>:<Type>`)
    keeps its released state. Its children need no alias of their own: the engine gives each child of a parent
    that matched through an alias the child's address under that old parent (`inheritedChildAlias`)."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=released_type)]))


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


AUTO_NAME_SUFFIX = 8
"""pulumi-aws auto-names `<logical name>-<7 random hex>`: 8 characters more than the logical name."""


def bounded_name(name: str, limit: int) -> str:
    """`name` itself when it fits `limit`, else cut (no trailing separator) plus `-` and 8 hex of the whole name's
    SHA-256, so two long names that share their first characters still differ. Deterministic."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{truncate_name(name, limit - len(digest) - 1)}-{digest}"


def instance_secret_name(name: str, suffix: str, limit: int = 63) -> str:
    """The default name of a Secret one component instance writes into namespaces other instances may also write
    (`<name>-mlflow-credentials`, `<name>-feast-credentials`): `<name>-<suffix>` when it fits `limit`, else
    `bounded_name` of it (cut, plus 8 hex of the whole name's SHA-256), so two instance names never share one
    Secret. A name that fits is the one earlier releases wrote."""
    return bounded_name(f"{name}-{suffix}", limit)


def name_within(name: str, limit: int) -> str | None:
    """The physical name to pass for a resource the provider would auto-name `<name>-<7 random>`: None (keep the
    provider's auto-name, as released) when that fits `limit`, else `bounded_name(name, limit)`.

    The provider refuses an auto-name over the field's limit at Check (e.g. IAM role names, 64), so a resource
    whose logical name is too long was never created under the auto-name: giving it an explicit name replaces
    nothing, and the resources that fit keep their names."""
    return None if len(name) + AUTO_NAME_SUFFIX <= limit else bounded_name(name, limit)


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


def renamed_type(opts: pulumi.ResourceOptions | None, old_type: str) -> pulumi.ResourceOptions:
    """`opts` plus an alias to the type token a component had before it was renamed (`mlops:<concern>:<Type>`):
    the engine finds the released resource under its old type, and every child inherits the alias."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=old_type)]))
