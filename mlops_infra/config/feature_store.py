"""Feature store config: Feast (S3 offline, DynamoDB or Redis online) or SageMaker Feature Store."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from .base import ConfigModel, Problem
from .types import ImageRef, K8sName


def _cron_problem(expr: str) -> str | None:
    """Validate a 5-field Kubernetes CronJob schedule without third-party parsers."""
    fields = expr.split()
    if len(fields) != 5:
        return f"not a valid cron expression ({expr!r}: expected 5 fields, got {len(fields)})"
    bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for text, (lo, hi) in zip(fields, bounds, strict=True):
        for part in text.split(","):
            rng, _, step = part.partition("/")
            if step and not step.isdigit():
                return f"not a valid cron expression ({expr!r})"
            if rng == "*":
                continue
            ends = rng.split("-")
            if len(ends) > 2 or not all(e.isdigit() and lo <= int(e) <= hi for e in ends):
                return f"not a valid cron expression ({expr!r})"
    return None


class OfflineStoreConfig(ConfigModel):
    engine: Literal["file", "athena"] = Field("file", description="Parquet files on S3, or Athena. Default: file.")
    staging_expiration_days: int = Field(7, ge=1, le=365, description="Expire staging/ objects after N days. Default: 7.")


class OnlineStoreConfig(ConfigModel):
    type: Literal["dynamodb", "redis"] = Field("dynamodb", description="dynamodb or redis. Default: dynamodb.")
    deletion_protection: bool = Field(True, description="DynamoDB deletion protection. Default: true (profile: dev false).")
    multi_az: bool = Field(True, description="Redis multi-AZ with automatic failover. Default: true (profile: dev false).")
    redis_node_type: str = Field("cache.r7g.large", description="ElastiCache node type (redis). Default: cache.r7g.large.")
    redis_engine_version: str = Field("7.1", description="Redis OSS engine version. Default: 7.1.")


class FeatureServerConfig(ConfigModel):
    image: ImageRef = Field("quay.io/feastdev/feature-server:0.54.0", description="Pinned feature server image.")
    min_replicas: int = Field(2, ge=1, le=100, description="HPA minimum replicas. Default: 2.")
    max_replicas: int = Field(6, ge=1, le=200, description="HPA maximum replicas. Default: 6.")
    cpu: str = Field("500m", description="CPU request and limit. Default: 500m.")
    memory: str = Field("1Gi", description="Memory request and limit. Default: 1Gi.")

    def problems(self) -> Iterable[Problem]:
        if self.max_replicas < self.min_replicas:
            yield "maxReplicas", f"must be >= minReplicas ({self.max_replicas} < {self.min_replicas})"


class SageMakerFeatureGroup(ConfigModel):
    name: K8sName = Field(..., description="Feature group name. Required.")
    record_identifier: str = Field(..., description="Record identifier feature name. Required.")
    event_time: str = Field("event_time", description="Event time feature name. Default: event_time.")
    features: dict[str, Literal["String", "Integral", "Fractional"]] = Field(
        ..., min_length=1, description="Feature name -> type. Required.")


class FeatureStoreConfig(ConfigModel):
    enabled: bool = Field(True, description="Deploy the feature store. Default: true.")
    engine: Literal["feast", "sagemaker"] = Field("feast", description="feast or sagemaker. Default: feast.")
    namespace: K8sName = Field("feast", description="Kubernetes namespace. Default: feast.")
    project: str = Field("mlops", pattern=r"^[a-z][a-z0-9_]*$", description="Feast project name. Default: mlops.")
    offline: OfflineStoreConfig = Field(default_factory=OfflineStoreConfig, description="Offline store.")
    online: OnlineStoreConfig = Field(default_factory=OnlineStoreConfig, description="Online store.")
    registry: Literal["s3", "sql"] = Field("s3", description="Feast registry: s3 object or sql (Postgres). Default: s3.")
    server: FeatureServerConfig = Field(default_factory=FeatureServerConfig, description="Feature server.")
    materialization_schedule: str = Field(
        "0 * * * *", description="Cron schedule of `feast materialize-incremental`. Default: hourly (0 * * * *).")
    feature_groups: list[SageMakerFeatureGroup] = Field(
        default_factory=list, description="Feature groups (engine: sagemaker). Default: none.")

    def problems(self) -> Iterable[Problem]:
        cron = _cron_problem(self.materialization_schedule)
        if cron:
            yield "materializationSchedule", cron
        if self.engine == "sagemaker" and not self.feature_groups:
            yield "featureGroups", "at least one feature group is required when engine is sagemaker"
