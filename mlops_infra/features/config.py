"""Feature store config: Feast (S3 offline, DynamoDB or Redis online) or SageMaker Feature Store.

`featureStore.engine` picks the variant (`FeastFeatureStoreConfig` or `SageMakerFeatureStoreConfig`); each holds
only the keys its engine reads, and code narrows with `isinstance`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from itertools import pairwise
from typing import Annotated, Literal, Union

from pydantic import Field, StringConstraints

from ..config.base import ConfigModel, Problem, engine_discriminator, engine_tag
from ..config.database import DatabaseConfig
from ..config.types import ImageRef, K8sName

# A Feast object name (project, feature view): Feast joins it into DynamoDB table names, which allow [a-zA-Z0-9_.-].
FEAST_NAME = r"^[a-z][a-z0-9_]*$"


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


def _cron_values(text: str, lo: int, hi: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        rng, _, step = part.partition("/")
        start, end = (lo, hi) if rng == "*" else (int(rng.split("-")[0]), int(rng.split("-")[-1]))
        if step and rng != "*" and "-" not in rng:
            end = hi  # `5/15` means from 5 to the top of the range
        values.update(range(start, end + 1, int(step) if step else 1))
    return values


def cron_max_gap_minutes(expr: str) -> int:
    """The longest wait between two runs of a valid 5-field schedule, in minutes, over a (leap) year: what a
    staleness alert must tolerate before it calls a healthy CronJob late. Day-of-month and day-of-week combine as
    cron does: either one matches when both are restricted."""
    minute, hour, dom, month, dow = expr.split()
    minutes, hours = sorted(_cron_values(minute, 0, 59)), sorted(_cron_values(hour, 0, 23))
    doms, months = _cron_values(dom, 1, 31), _cron_values(month, 1, 12)
    dows = {d % 7 for d in _cron_values(dow, 0, 7)}
    start = date(2024, 1, 1)  # a leap year starting on a Monday
    runs: list[int] = []
    for offset in range(2 * 366):  # two years, so the gap across the new year is seen
        day = start + timedelta(days=offset)
        dom_ok, dow_ok = day.day in doms, (day.weekday() + 1) % 7 in dows
        restricted = dom != "*" and dow != "*"
        if day.month in months and ((dom_ok or dow_ok) if restricted else (dom_ok and dow_ok)):
            runs += [offset * 1440 + h * 60 + m for h in hours for m in minutes]
    return max(b - a for a, b in pairwise(runs)) if len(runs) > 1 else 2 * 366 * 1440


class OfflineStoreConfig(ConfigModel):
    """The Feast offline store: Parquet files on S3 or Athena."""
    engine: Literal["file", "athena"] = Field("file", description="Parquet files on S3, or Athena. Default: file.")
    staging_expiration_days: int = Field(7, ge=1, le=365, description="Expire staging/ objects after N days. Default: 7.")


class OnlineStoreConfig(ConfigModel):
    """The Feast online store: DynamoDB or Redis (ElastiCache)."""
    type: Literal["dynamodb", "redis"] = Field("dynamodb", description="dynamodb or redis. Default: dynamodb.")
    deletion_protection: bool = Field(True, description="DynamoDB deletion protection. Default: true (profile: dev false).")
    multi_az: bool = Field(True, description="Redis multi-AZ with automatic failover. Default: true (profile: dev false).")
    redis_node_type: str = Field("cache.r7g.large", description="ElastiCache node type (redis). Default: cache.r7g.large.")
    redis_engine_version: str = Field("7.1", description="Redis OSS engine version. Default: 7.1.")
    redis_snapshot_retention_days: int = Field(
        7, ge=1, le=35, description="Daily Redis snapshots kept (FSBP ElastiCache.1). Default: 7.")
    redis_auth: Literal["rbac", "token"] = Field(
        "rbac", description="Redis authentication: `rbac` (ElastiCache users in a user group: the owner, a disabled "
        "`default`, and one user per consumer namespace limited to Feast's keys, read-only unless it is a writer) or "
        "`token` (the single AUTH token of earlier releases: consumers get no Redis login). Switching an existing "
        "group from token to rbac modifies it in place, no replacement (docs/pipelines.md, consumers' "
        "credentials). Default: rbac.")
    feature_views: list[Annotated[str, StringConstraints(pattern=FEAST_NAME)]] = Field(
        default_factory=list,
        description="Feature views whose DynamoDB tables the platform creates (KMS, PITR, deletion protection); "
        "Feast gets no dynamodb:CreateTable, so a view not listed here fails `feast apply`. Default: none.")

    def problems(self) -> Iterable[Problem]:
        seen: set[str] = set()
        for i, view in enumerate(self.feature_views):
            if view in seen:
                yield f"featureViews[{i}]", f"duplicate feature view {view!r}"
            seen.add(view)
        if self.type == "redis" and self.feature_views:
            yield "featureViews", "only used with type dynamodb (Redis needs no tables)"


class FeatureServerConfig(ConfigModel):
    # Feast images moved from Docker Hub (last: 0.46) to quay.io; tag 0.66.0 checked Nov 2026 in peers' pins of
    # quay.io/feastdev/feature-server (the Feast operator defaults to feature-server:<release>).
    """The Feast feature server: image, replicas and resources."""
    image: ImageRef = Field("quay.io/feastdev/feature-server:0.66.0", description="Pinned feature server image.")
    min_replicas: int = Field(2, ge=1, le=100, description="HPA minimum replicas. Default: 2.")
    max_replicas: int = Field(6, ge=1, le=200, description="HPA maximum replicas. Default: 6.")
    cpu: str = Field("500m", description="CPU request and limit. Default: 500m.")
    memory: str = Field("1Gi", description="Memory request and limit. Default: 1Gi.")
    target_cpu_percent: int = Field(70, ge=10, le=100, description="HPA target CPU utilization. Default: 70.")

    def problems(self) -> Iterable[Problem]:
        if self.max_replicas < self.min_replicas:
            yield "maxReplicas", f"must be >= minReplicas ({self.max_replicas} < {self.min_replicas})"


class SageMakerFeatureGroup(ConfigModel):
    """One SageMaker Feature Store feature group: its identifier, event time and features."""
    name: K8sName = Field(..., description="Feature group name. Required.")
    record_identifier: str = Field(..., description="Record identifier feature name. Required.")
    event_time: str = Field("event_time", description="Event time feature name (a String feature). Default: event_time.")
    features: dict[str, Literal["String", "Integral", "Fractional"]] = Field(
        ..., min_length=1, description="Feature name -> type. Required.")

    def problems(self) -> Iterable[Problem]:
        if self.record_identifier not in self.features:
            yield "recordIdentifier", f"{self.record_identifier!r} is not one of the features"
        if self.features.get(self.event_time, "String") == "Integral":
            yield "eventTime", f"{self.event_time!r} must be a String or Fractional feature"


class FeastFeatureStoreConfig(ConfigModel):
    """engine feast: Feast on EKS with an S3 offline store, a DynamoDB or Redis online store and an S3 or SQL
    registry."""

    enabled: bool = Field(True, description="Deploy the feature store. Default: true.")
    engine: Literal["feast"] = Field("feast", description="feast or sagemaker. Default: feast.")
    namespace: K8sName = Field("feast", description="Kubernetes namespace. Default: feast.")
    project: str = Field("mlops", pattern=FEAST_NAME, description="Feast project name. Default: mlops.")
    offline: OfflineStoreConfig = Field(default_factory=OfflineStoreConfig, description="Offline store.")
    online: OnlineStoreConfig = Field(default_factory=OnlineStoreConfig, description="Online store.")
    registry: Literal["s3", "sql"] = Field("s3", description="Feast registry: s3 object or sql (Postgres). Default: s3.")
    registry_database: DatabaseConfig = Field(
        default_factory=DatabaseConfig, description="RDS Postgres of the SQL registry (registry: sql).")
    server: FeatureServerConfig = Field(default_factory=FeatureServerConfig, description="Feature server.")
    writer_namespaces: list[K8sName] = Field(
        default_factory=list, description="Consumer namespaces (teams, orchestrators) whose Feast logins may also write "
        "(`feast apply`, ingestion): the SQL registry's tables and, with redis auth rbac, Feast's Redis keys. The "
        "others only read. Default: none.")
    materialization_schedule: str = Field(
        "0 * * * *", description="Cron schedule of `feast materialize-incremental`. Default: hourly (0 * * * *).")
    materialization_image: ImageRef | None = Field(
        None, description="Image of the materialization CronJob (the registry bootstrap Job runs server.image). "
        "It needs s3fs when "
        "offline.engine is file (Feast reads s3:// parquet through dask/fsspec), which the stock feature-server image "
        "lacks: build images/feast/Dockerfile. Default: server.image.")
    materialization_cpu: str = Field("1", description="Materialization job CPU request and limit. Default: 1.")
    materialization_memory: str = Field("2Gi", description="Materialization job memory request and limit. Default: 2Gi.")

    @property
    def effective_materialization_image(self) -> str:
        return self.materialization_image or self.server.image

    def problems(self) -> Iterable[Problem]:
        cron = _cron_problem(self.materialization_schedule)
        if cron:
            yield "materializationSchedule", cron

    def network_problems(self, private_subnet_count: int) -> list[Problem]:
        """Checks that need the network: Redis and the SQL registry live in private subnets only.

        Paths are relative to `featureStore`; the platform (or the component, from its refs) reports them.
        """
        found: list[Problem] = []
        if not self.enabled:
            return found
        if self.online.type == "redis" and private_subnet_count == 0:
            found.append(("online.type", "redis needs private subnets, and the network has none"))
        if self.registry == "sql" and private_subnet_count == 0:
            found.append(("registry", "sql needs private subnets for its database, and the network has none"))
        return found


class SageMakerFeatureStoreConfig(ConfigModel):
    """engine sagemaker: SageMaker Feature Store feature groups (online and offline), no Kubernetes objects."""

    enabled: bool = Field(True, description="Deploy the feature store. Default: true.")
    engine: Literal["sagemaker"] = Field("sagemaker", description="feast or sagemaker. Default: feast.")
    feature_groups: list[SageMakerFeatureGroup] = Field(
        ..., min_length=1, description="Feature groups. Required (at least one).")

    def problems(self) -> Iterable[Problem]:
        names = [g.name for g in self.feature_groups]
        for i, group in enumerate(names):
            if group in names[:i]:
                yield f"featureGroups[{i}].name", f"duplicate feature group {group!r}"


FeatureStoreConfig = Annotated[
    Union[Annotated[FeastFeatureStoreConfig, engine_tag("feast")],  # noqa: UP007 (Annotated members)
          Annotated[SageMakerFeatureStoreConfig, engine_tag("sagemaker")]],
    engine_discriminator("feast")]
"""`featureStore`: the variant named by `engine` (default feast)."""
