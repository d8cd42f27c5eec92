"""`ModelRegistry(name, ModelRegistryArgs(...))`: the engine component that `modelRegistry.engine` names, for programs
written against the single ModelRegistry of earlier releases and for callers whose engine comes from config.

New code that knows its engine constructs `MlflowRegistry` (mlflow_registry.py) or `SageMakerRegistry`
(sagemaker_registry.py) directly; code that works with either takes a `ModelRegistryLike` (artifacts.py). Both keep
the released resource names, and alias the released type token `mlops:model_registry:ModelRegistry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from ..blocks.bucket import VpcEndpointGuard
from ..blocks.observability import MonitoringRefs
from ..blocks.refs import ClusterRefs, NetworkRefs
from .artifacts import ARTIFACT_PREFIX, LOG_MODELS_DESCRIPTION, ModelRegistryLike
from .config import ModelRegistryConfig, SageMakerModelRegistryConfig
from .mlflow_registry import MlflowRegistry, MlflowRegistryArgs
from .sagemaker_registry import SageMakerRegistry, SageMakerRegistryArgs

# ARTIFACT_PREFIX and LOG_MODELS_DESCRIPTION: the released module's constants, where earlier programs import them.
__all__ = ["ARTIFACT_PREFIX", "LOG_MODELS_DESCRIPTION",
           "MlflowRegistry", "ModelRegistry", "ModelRegistryArgs", "ModelRegistryLike", "SageMakerRegistry"]


@dataclass(frozen=True)
class ModelRegistryArgs:
    """Either engine's arguments (see MlflowRegistryArgs and SageMakerRegistryArgs for each field)."""

    config: ModelRegistryConfig
    """`modelRegistry`: its engine (mlflow or sagemaker) picks the component."""
    tags: dict[str, str]
    network: NetworkRefs | None = None
    """Required for engine mlflow (the database's private subnets). Default: none."""
    cluster: ClusterRefs | None = None
    """Required for engine mlflow (identity, security group, namespaces, its Kubernetes provider), and for engine
    sagemaker with `monitoring`. Default: none."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the key, bucket and database. Default: true."""
    monitoring: MonitoringRefs | None = None
    """A monitoring core to contribute to: the tracking server's ServiceMonitor (admitted from its Prometheus
    namespace), rules, a dashboard and database alarms (registry/observability.py). Default: none (nothing)."""
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra ServiceMonitor labels for Prometheus' selector (mlflow). Default: none."""
    oidc_client_secret: pulumi.Input[str] | None = None
    """`secret_config(config.ingress.oidc_client_secret)` when ingress auth is oidc (mlflow). Default: none."""
    name_prefix: str | None = None
    """Prefix of SageMaker group names (engine sagemaker), e.g. `mlops-prod`. Default: the component's name."""
    bucket_guard: VpcEndpointGuard | None = None
    """Deny artifact access from outside the VPC endpoint (exfiltration guard). Default: off."""
    client_namespaces: Sequence[pulumi.Input[str]] = ()
    """Namespaces whose pods may call the tracking server (engine mlflow; its NetworkPolicy). Default: none."""
    client_namespace_labels: Mapping[str, str] | None = None
    """Also admit namespaces carrying these labels (a team workspace's; mlflow). Default: none."""
    team_namespaces: Sequence[str] = ()
    """Namespaces whose workloads log to MLflow: with MLflow basic auth each gets its own MLflow user (named after
    the namespace) and the Secret `credentials_secret_name` (registry/mlflow_users.py). Default: none."""
    credentials_secret_name: str | None = None
    """The Secret each of `team_namespaces` gets (mlflow). Default: `<name>-mlflow-credentials`, one per instance."""
    client_users: Sequence[str] = ()
    """Namespaces created after the registry (the orchestrators') whose workloads log to MLflow: with MLflow basic
    auth each gets its own MLflow user, and its password in `mlflow_credentials`. Default: none."""


def ModelRegistry(name: str, args: ModelRegistryArgs,  # the released class name, now a factory
                  opts: pulumi.ResourceOptions | None = None) -> MlflowRegistry | SageMakerRegistry:
    """The engine component for `args.config.engine`, with the same name and children as the released one."""
    cfg = args.config
    if isinstance(cfg, SageMakerModelRegistryConfig):
        return SageMakerRegistry(name, SageMakerRegistryArgs(
            config=cfg, tags=args.tags, protect=args.protect, name_prefix=args.name_prefix,
            bucket_guard=args.bucket_guard, monitoring=args.monitoring, cluster=args.cluster), opts)
    if args.network is None or args.cluster is None:
        raise ValueError(f"{name}: engine mlflow needs network and cluster refs")
    return MlflowRegistry(name, MlflowRegistryArgs(
        config=cfg, tags=args.tags, network=args.network, cluster=args.cluster, protect=args.protect,
        monitoring=args.monitoring, service_monitor_labels=args.service_monitor_labels,
        oidc_client_secret=args.oidc_client_secret, bucket_guard=args.bucket_guard,
        client_namespaces=args.client_namespaces, client_namespace_labels=args.client_namespace_labels,
        team_namespaces=args.team_namespaces, client_users=args.client_users,
        credentials_secret_name=args.credentials_secret_name), opts)


def _engines_are_model_registries(mlflow: MlflowRegistry, sagemaker: SageMakerRegistry) -> list[ModelRegistryLike]:
    """Never called: mypy --strict checks here that both engines satisfy the Protocol."""
    return [mlflow, sagemaker]
