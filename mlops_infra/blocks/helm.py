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
) -> k8s.helm.v3.Release:
    """A Helm release that waits for readiness, rolls back on failure and keeps a short history.

    Custom resources that use the chart's CRDs must list the returned release in `depends_on`. `protect`: Pulumi
    `protect` + `retain_on_delete` on a release that owns state (e.g. a StatefulSet's volumes). Default: false.
    """
    return k8s.helm.v3.Release(
        name,
        chart=chart.chart,
        version=chart.version,
        repository_opts={"repo": chart.repo} if chart.repo else None,
        namespace=namespace,
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        max_history=5,
        timeout=timeout_seconds,
        opts=child_options(parent, stateful=True, protect=protect, depends_on=depends_on),
    )
