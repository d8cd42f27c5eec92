"""Model serving in the platform (the adapter): one `ModelServing` (KServe) or `SageMakerServing` when
`serving.enabled`, reading the registry's artifacts. Builds the component's Args from `PlatformConfig` and the refs
the core hands back, registers what it exposes (its service port), and declares its stack outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from ..blocks.namespace import PLATFORM_CLIENT
from ..blocks.naming import child
from ..serving.config import ServingConfig
from ..serving.model_serving import ModelServing, ModelServingArgs
from ..serving.sagemaker_serving import SageMakerServing, SageMakerServingArgs
from .addons import AddOn, PlatformContext
from .output_key import Key

if TYPE_CHECKING:
    from .config import PlatformConfig


def _serving(c: PlatformConfig) -> bool:
    return c.serving.enabled


OUTPUTS: tuple[Key, ...] = (
    Key("servingEndpoints", "In-cluster URL of each served model's API, by model name.", when=_serving,
        required=False),
    Key("servingRoleArn", "IAM role of the model servers (read-only on the artifact bucket).", when=_serving,
        required=False),
)


def build(ctx: PlatformContext) -> dict[str, Any]:
    cfg, config = ctx.config.serving, ctx.config
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
    serving = ModelServing(child(ctx.name, "serving"), ModelServingArgs(
        # The platform's serving installs the cluster's KServe and cert-manager, unless another stack did (`kserve` in
        # cluster.addOnsInstalledElsewhere): then it uses theirs (platform/add_ons_elsewhere.USED_FROM_ELSEWHERE).
        config=cfg, cluster=ctx.cluster, artifacts=ctx.artifacts, region=config.region,
        install_controller="kserve" not in config.cluster.add_ons_elsewhere,
        tags=ctx.tags,
        gpu_taints={p.name: p.taint for p in config.gpu_pools},
        monitoring=ctx.monitoring, pushgateway_url=ctx.pushgateway_url,
        client_namespaces=sorted(t.name for t in config.cluster.teams), client_namespace_labels=PLATFORM_CLIENT,
        vpc_cidr=ctx.network.vpc_cidr,
        # The feature store's group holds FeatureDrift; without one, serving alerts on its models' feature drift.
        feature_drift_threshold=None if config.feature_store.enabled else config.monitoring.thresholds.drift_score),
        ctx.k8s_opts)
    ctx.service_ports.extend(serving.service_ports)  # the teams call served models through the egress guards
    return {"servingEndpoints": serving.endpoints, "servingRoleArn": serving.identity.role_arn}


ADD_ON = AddOn("serving", build, OUTPUTS)
