"""Orchestration add-on: builds every enabled engine under the platform (mlops_infra/platform/addons.py)."""

from __future__ import annotations

from typing import Any

from ..platform.addons import PlatformContext
from .outputs import OUTPUTS

__all__ = ["OUTPUTS", "build"]


def build(ctx: PlatformContext) -> dict[str, Any]:
    """Each enabled engine's components; returns their stack outputs (camelCase keys, one prefix per engine)."""
    cfg = ctx.config.orchestration
    outputs: dict[str, Any] = {}
    argo_base: list[Any] = []  # KFP's Argo CRDs and PriorityClass: Metaflow's Argo controller waits for them
    if cfg.airflow.enabled:
        from .airflow import build_airflow
        outputs |= build_airflow(ctx)
    if cfg.kubeflow_pipelines.enabled:
        from .kfp import build_kfp
        kfp_outputs, argo_base = build_kfp(ctx)
        outputs |= kfp_outputs
    if cfg.metaflow.enabled:
        from .metaflow import build_metaflow
        outputs |= build_metaflow(ctx, argo_base)
    if cfg.prefect.enabled:
        from .prefect import build_prefect
        outputs |= build_prefect(ctx)
    return outputs
