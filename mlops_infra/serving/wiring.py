"""Model serving in the platform: one `ModelServing` when `serving.enabled`, reading the registry's artifacts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from ..blocks.namespace import PLATFORM_CLIENT
from ..blocks.naming import child
from ..outputs import Key
from .config import ServingConfig
from .model_serving import ModelServing, ModelServingArgs
from .sagemaker_serving import SageMakerServing, SageMakerServingArgs

if TYPE_CHECKING:
    from ..config import PlatformConfig
    from ..platform.addons import PlatformContext


def _serving(c: PlatformConfig) -> bool:
    return c.serving.enabled


OUTPUTS: tuple[Key, ...] = (
    Key("servingEndpoints", "In-cluster URL of each served model's API, by model name.", when=_serving,
        required=False),
    Key("servingRoleArn", "IAM role of the model servers (read-only on the artifact bucket).", when=_serving,
        required=False),
)


def build(ctx: PlatformContext) -> dict[str, Any]:
    cfg = ctx.config.serving
    if not cfg.enabled:
        return {}
    if ctx.artifacts is None:  # config validation reports this first (serving needs the model registry)
        raise ValueError("serving needs the model registry's artifact bucket (modelRegistry.enabled, engine mlflow)")
    if not isinstance(cfg, ServingConfig):  # engine sagemaker: captured requests go to the shared bucket
        sm = SageMakerServing(child(ctx.name, "serving"), SageMakerServingArgs(
            config=cfg, artifacts=ctx.artifacts, capture=ctx.shared_bucket.refs, tags=ctx.tags,
            network=ctx.network),
            pulumi.ResourceOptions(parent=ctx.parent))
        return {"servingEndpoints": sm.endpoints, "servingRoleArn": sm.role_arn}
    # The Pushgateway URL is not part of MonitoringRefs: read it from the platform's monitoring core when built.
    monitoring_core = getattr(ctx.parent, "monitoring", None)
    serving = ModelServing(child(ctx.name, "serving"), ModelServingArgs(
        config=cfg, cluster=ctx.cluster, artifacts=ctx.artifacts, region=ctx.config.region, tags=ctx.tags,
        gpu_taints={p.name: p.taint for p in ctx.config.gpu_pools},
        monitoring=ctx.monitoring,
        pushgateway_url=getattr(monitoring_core, "pushgateway_url", None),
        client_namespaces=sorted(t.name for t in ctx.config.cluster.teams), client_namespace_labels=PLATFORM_CLIENT,
        vpc_cidr=ctx.network.vpc_cidr,  # type: ignore[arg-type]
        # The feature store's group holds FeatureDrift; without one, serving alerts on its models' feature drift.
        feature_drift_threshold=None if ctx.config.feature_store.enabled
        else ctx.config.monitoring.thresholds.drift_score), ctx.k8s_opts)
    return {"servingEndpoints": serving.endpoints, "servingRoleArn": serving.identity.role_arn}
