"""`mlops:platform` of a consumer stack: one that builds components on another stack's cluster and VPC.

Such a stack validates only what it reads: who and where it is (`environment`, `name`, `region`, `tags`,
`protectStateful`) and the components it builds alone (`gpuPools`, `featureStore`, `modelRegistry`,
`monitoring`, `securityBaseline`, and the add-ons' `orchestration`, `serving`, `data`). It configures no VPC and
no cluster: what the platform's cluster runs (its version, workload identity mode, controllers, Service CIDR,
StorageClasses) comes from the platform stack's outputs (`ClusterRefs.from_stack_outputs`). The environment's
profile fills the unset keys of these sections as it does for a platform stack.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from types import EllipsisType
from typing import Any

from pydantic import Field

from .compute.gpu_config import GpuPoolConfig
from .config.base import ConfigModel, Problem
from .config.environments import Environment, apply_profile
from .config.errors import ConfigError
from .config.loader import load_config_model, stack_context
from .config.regions import region_problems
from .config.types import AwsRegion, ResourceName
from .data.config import DataConfig
from .features.config import FeastFeatureStoreConfig, FeatureStoreConfig
from .observability.config import MonitoringConfig
from .pipelines.config import OrchestrationConfig
from .pipelines.metaflow_config import metaflow_own_problems
from .platform.config import PlatformConfig, TagsConfig, component_namespace_problems
from .platform.loader import CONFIG_KEY, CONFIG_NAMESPACE
from .registry.config import MlflowModelRegistryConfig, ModelRegistryConfig
from .security.config import SecurityBaselineConfig
from .serving.config import ServingConfig, ServingEngineConfig

_PLATFORM_ONLY = {
    "network": "a consumer stack makes no VPC: the platform stack's outputs describe it "
               "(NetworkRefs.from_stack_outputs); remove `network`",
    "cluster": "a consumer stack makes no cluster: its version, workload identity and controllers come from the "
               "platform stack's outputs (ClusterRefs.from_stack_outputs); remove `cluster`",
}


def _field(name: str) -> Any:
    return PlatformConfig.model_fields[name]


class ConsumerConfig(ConfigModel):
    """What a consumer stack reads of its `mlops:platform` (the keys mean what they mean for a platform stack)."""

    environment: Environment = _field("environment")
    name: ResourceName = _field("name")
    region: AwsRegion = _field("region")
    tags: TagsConfig = _field("tags")
    protect_stateful: bool = _field("protect_stateful")
    feature_store: FeatureStoreConfig = Field(default_factory=FeastFeatureStoreConfig, description="Feature store.")
    model_registry: ModelRegistryConfig = Field(default_factory=MlflowModelRegistryConfig,
                                                description="Model registry.")
    gpu_pools: list[GpuPoolConfig] = Field(default_factory=list, description="GPU node pools. Default: none.")
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig, description="Monitoring stack.")
    security_baseline: SecurityBaselineConfig = Field(
        default_factory=SecurityBaselineConfig, description="Security baseline.")
    orchestration: OrchestrationConfig = Field(default_factory=OrchestrationConfig, description="Orchestrators.")
    serving: ServingEngineConfig = Field(default_factory=ServingConfig,
                                         description="Model serving: engine kserve (default) or sagemaker.")
    data: DataConfig = Field(default_factory=DataConfig, description="Data versioning and vector search.")

    @property
    def resource_tags(self) -> dict[str, str]:
        return self.tags.for_environment(self.environment)

    @property
    def feast(self) -> FeastFeatureStoreConfig | None:
        """The feature store's config when it is on and runs Feast; else None."""
        fs = self.feature_store
        return fs if isinstance(fs, FeastFeatureStoreConfig) and fs.enabled else None

    @property
    def mlflow(self) -> MlflowModelRegistryConfig | None:
        """The model registry's config when it is on and runs MLflow; else None."""
        reg = self.model_registry
        return reg if isinstance(reg, MlflowModelRegistryConfig) and reg.enabled else None

    def problems(self) -> Iterable[Problem]:
        """The platform's checks across sections that hold for what this stack builds; what depends on the
        platform's cluster or VPC (the load balancer controller, External Secrets, the namespaces and bucket names
        the platform admits, the Argo base) is checked by each component against the refs it is handed."""
        yield from component_namespace_problems(self.orchestration, self.data)
        metaflow = self.orchestration.metaflow
        if metaflow.enabled:
            yield from ((f"orchestration.metaflow.{path}", msg) for path, msg in metaflow_own_problems(metaflow))

    def context_problems(self, context: Mapping[str, Any]) -> Iterable[Problem]:
        if "aws_region" in context:
            yield from region_problems(self.region, context["aws_region"])
        secret_keys = context.get("secret_keys")
        reg = self.model_registry
        if (secret_keys is not None and isinstance(reg, MlflowModelRegistryConfig) and reg.ingress.oidc_client_secret
                and reg.ingress.oidc_client_secret not in secret_keys):
            key = reg.ingress.oidc_client_secret
            yield ("modelRegistry.ingress.oidcClientSecret",
                   f"config key 'mlops:{key}' is not set as a secret (pulumi config set --secret {key} ...)")


def load_consumer_config(raw: Mapping[str, Any] | None, *, secret_keys: Container[str] | None = None,
                         aws_region: str | EllipsisType | None = ...,
                         source: str = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}") -> ConsumerConfig:
    """Validate a consumer stack's `mlops:platform` (camelCase); one `ConfigError` lists every problem. A platform
    section it does not read is refused (`cluster`, `network`: their facts come from the platform's outputs)."""
    if not isinstance(raw, Mapping):
        return load_config_model(ConsumerConfig, raw, source=source)
    read = {f.alias or name for name, f in ConsumerConfig.model_fields.items()}
    platform_only = {f.alias for f in PlatformConfig.model_fields.values()} - read
    refused = [f"{key}: {_PLATFORM_ONLY.get(key) or _not_read(key, read)}" for key in raw if key in platform_only]
    if refused:
        raise ConfigError(refused, source)
    # The profile fills the sections read; a key of no section stays, so that a typo is reported.
    profiled = {k: v for k, v in apply_profile(dict(raw)).items() if k not in platform_only}
    return load_config_model(ConsumerConfig, profiled, source=source,
                             context=stack_context(secret_keys, aws_region) or None)


def _not_read(key: str, read: set[str]) -> str:
    return (f"a consumer stack does not read `{key}` (it reads {', '.join(sorted(read))}): remove it, or set it in "
            "the platform stack")
