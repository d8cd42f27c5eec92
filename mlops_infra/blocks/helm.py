"""Pinned Helm releases: chart, repository and version always explicit; CRD consumers depend on the release."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .naming import child_options


@dataclass(frozen=True)
class PinnedChart:
    chart: str
    repo: str
    """Chart repository URL, or empty for an `oci://` chart."""
    version: str

    @property
    def name(self) -> str:
        """The chart's own name: the last part of an `oci://` reference, else the chart."""
        return self.chart.rstrip("/").rsplit("/", 1)[-1]


RELEASE_NAMES_CONFIG = "helmReleaseNames"
"""Stack config `mlops:helmReleaseNames`: `explicit` (default) sends every release's name; `generated` sends none, so
pulumi-kubernetes keeps the name a release already has in state (`<logical name>-<8 hex>`, what 0.1 created).

A release's name is a replace-on-change field of `kubernetes:helm.sh/v3:Release` (pulumi-kubernetes
helm_release.go `forceNewFields`), replaced create-before-delete: switching a deployed 0.1 stack to explicit names
would install each chart a second time beside the first, which Helm refuses (the objects belong to the old release),
and a protected release cannot be replaced at all. Stacks deployed with 0.1 set `generated` until they migrate
(README: Upgrading); new stacks keep the default."""
HELM_RELEASE_NAME_LIMIT = 53
"""Helm refuses a release name over 53 characters (`helm install`: "release name ... exceeds max length of 53")."""


def release(
    name: str,
    chart: PinnedChart,
    *,
    parent: pulumi.Resource,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    depends_on: Sequence[pulumi.Resource] = (),
    timeout_seconds: int = 600,
    protect: bool = False,
    release_name: str | None = None,
    retain_on_delete: bool = False,
    atomic: bool = True,
) -> k8s.helm.v3.Release:
    """A Helm release that waits for readiness, rolls back on failure and keeps a short history.

    Custom resources that use the chart's CRDs must list the returned release in `depends_on`. `protect`: Pulumi
    `protect` + `retain_on_delete` on a release that owns state (e.g. a StatefulSet's volumes). Default: false.

    `release_name`: the Helm release name, always sent explicitly. Default: the chart's own name (`helm install
    <chart>`), so the names the chart renders (`<release>-<component>`, `release: <release>` labels) are known when
    the program is written; without it pulumi-kubernetes would append 8 random hex characters, and every Service
    URL and selector that names the release would miss. Release names are unique per namespace.

    `retain_on_delete`: Pulumi `retain_on_delete` alone: when Pulumi deletes the resource (its stack is destroyed,
    or the program stops declaring it) the release stays installed, what it made included (e.g. cluster-wide CRDs
    that other stacks' objects use: deleting a CRD deletes every object of it). Default: false (`helm uninstall`).

    `atomic`: Helm's `--atomic` and `--cleanup-on-fail`: a failed or cancelled install is uninstalled, a failed
    upgrade rolled back and what it created deleted. Default: true. Pass false for a release that takes over objects
    that already exist (kept CRDs): an atomic install that fails after adopting them uninstalls them, because Helm
    reads `helm.sh/resource-policy: keep` only from the release's own manifest.
    """
    release_name = release_name or chart.name
    mode = pulumi.Config("mlops").get(RELEASE_NAMES_CONFIG) or "explicit"
    if mode not in ("explicit", "generated"):
        raise ValueError(f"mlops:{RELEASE_NAMES_CONFIG} must be explicit or generated, not {mode!r}")
    if len(release_name) > HELM_RELEASE_NAME_LIMIT:
        raise ValueError(f"{name}: Helm release name {release_name!r} is {len(release_name)} characters; "
                         f"Helm allows {HELM_RELEASE_NAME_LIMIT}")
    return k8s.helm.v3.Release(
        name,
        name=release_name if mode == "explicit" else None,
        chart=chart.chart,
        version=chart.version,
        repository_opts={"repo": chart.repo} if chart.repo else None,
        namespace=namespace,
        values=dict(values),
        atomic=atomic,
        cleanup_on_fail=atomic,
        max_history=5,
        timeout=timeout_seconds,
        opts=pulumi.ResourceOptions.merge(
            child_options(parent, stateful=True, protect=protect, depends_on=depends_on),
            pulumi.ResourceOptions(retain_on_delete=True) if retain_on_delete else None),
    )
