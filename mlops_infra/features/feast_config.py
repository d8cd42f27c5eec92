"""Build and validate Feast's `feature_store.yaml` (pure: no Pulumi, no Feast import).

Why not Feast's own `RepoConfig`: `feast[aws,redis]` 0.66.0 is ~650 MB and 90 packages (pandas, pyarrow, dask)
and takes ~7 s to import, too heavy for the dev extra. The models below mirror the fields of Feast 0.66.0, the
version the feature-server image pins (`sdk/python/feast/...`, cited per class), and forbid unknown keys, as
Feast's `FeastConfigBaseModel` does, so a misspelled or invented key fails here exactly as it would in Feast. The
generated files are loaded by the real Feast 0.66.0 in tests/integration/test_feast.py (.venv-feast).

Secrets never enter the file: passwords are `${ENV_VAR}` references that Feast expands when it loads the file
(`load_repo_config` runs `os.path.expandvars`, repo_config.py), filled from a Kubernetes Secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

REDIS_PASSWORD_ENV = "FEAST_REDIS_PASSWORD"
REGISTRY_PASSWORD_ENV = "FEAST_REGISTRY_PASSWORD"
REGISTRY_READER_PASSWORD_ENV = "FEAST_REGISTRY_READER_PASSWORD"
SchemaMode = Literal["auto", "verify", "skip"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryDoc(_Strict):
    """feast/repo_config.py `RegistryConfig`: registry_type `file` (an S3 object path) or `sql` (SQLAlchemy URL)."""

    registry_type: Literal["file", "sql"]
    path: StrictStr = Field(min_length=1)
    cache_ttl_seconds: StrictInt = Field(60, ge=0)
    # feast/infra/registry/sql.py `SqlRegistryConfig.schema_mode` (0.66.0): auto creates missing tables on start,
    # verify only checks they exist (no DDL: what a read-only database user can do).
    schema_mode: SchemaMode | None = None


class DynamoDBDoc(_Strict):
    """feast/infra/online_stores/dynamodb.py `DynamoDBOnlineStoreConfig`."""

    type: Literal["dynamodb"]
    region: StrictStr
    table_name_template: StrictStr = Field(pattern=r"\{project\}.*\{table_name\}")
    consistent_reads: bool = False


class RedisDoc(_Strict):
    """feast/infra/online_stores/redis.py `RedisOnlineStoreConfig` (connection_string `host:port,ssl=true,password=`)."""

    type: Literal["redis"]
    redis_type: Literal["redis"] = "redis"
    connection_string: StrictStr = Field(pattern=r"^[^,\s]+:\d+(,[a-z_]+=[^,\s]+)*$")


class FileDoc(_Strict):
    """feast/infra/offline_stores/dask.py `DaskOfflineStoreConfig` (type `file` or `dask`): parquet on S3."""

    type: Literal["file"]


class AthenaDoc(_Strict):
    """feast/infra/offline_stores/contrib/athena_offline_store/athena.py `AthenaOfflineStoreConfig`."""

    type: Literal["athena"]
    region: StrictStr
    data_source: StrictStr
    database: StrictStr
    workgroup: StrictStr
    s3_staging_location: StrictStr = Field(pattern=r"^s3://")


class FeatureStoreDoc(_Strict):
    """feast/repo_config.py `RepoConfig` (keys by alias: `registry`, `online_store`, `offline_store`)."""

    project: StrictStr = Field(pattern=r"^[A-Za-z0-9_]+$")
    provider: Literal["aws"]
    registry: RegistryDoc
    online_store: Annotated[DynamoDBDoc | RedisDoc, Field(discriminator="type")]
    offline_store: Annotated[FileDoc | AthenaDoc, Field(discriminator="type")]
    # 3 is Feast's default; 0.66.0 still accepts < 3 with a DeprecationWarning (repo_config.py), we allow only 3.
    entity_key_serialization_version: Literal[3]


@dataclass(frozen=True)
class FeastStores:
    """The provisioned stores, resolved to plain values (built inside an `Output.apply`)."""

    project: str
    region: str
    registry_path: str
    """`s3://bucket/registry/registry.db`, or a `postgresql+psycopg://...` URL whose password is an env reference."""
    online: Literal["dynamodb", "redis"]
    registry_schema_mode: SchemaMode | None = None
    """SQL registry only: `verify` for a read-only user. Default: unset (Feast's `auto`)."""
    dynamodb_table_prefix: str = ""
    """Tables are named `<prefix>.<project>.<feature view>` (dynamodb)."""
    redis_endpoint: str = ""
    """`host:port` of the Redis primary (redis)."""
    redis_user: str | None = None
    """The ElastiCache user (RBAC; a name or `${FEAST_REDIS_USER}`), or None (the AUTH token of `redisAuth: token`)."""
    offline: Literal["file", "athena"] = "file"
    athena_database: str = ""
    athena_workgroup: str = ""
    athena_staging: str = ""


def dynamodb_table_name(prefix: str, project: str, view: str) -> str:
    """The table Feast uses for `view`: `table_name_template.format(project=..., table_name=...)` (dynamodb.py)."""
    return f"{prefix}.{project}.{view}"


def registry_sql_url(host: str, port: int, database: str, user: str, password_env: str = REGISTRY_PASSWORD_ENV) -> str:
    """SQLAlchemy URL with the psycopg3 driver Feast standardises on; the password comes from the environment."""
    return f"postgresql+psycopg://{user}:${{{password_env}}}@{host}:{port}/{database}?sslmode=require"


def build(stores: FeastStores) -> dict[str, Any]:
    """The `feature_store.yaml` document for exactly these stores (validated before it is returned)."""
    registry: dict[str, Any] = {"registry_type": "sql" if stores.registry_path.startswith("postgresql") else "file",
                                "path": stores.registry_path, "cache_ttl_seconds": 60}
    if stores.registry_schema_mode is not None:
        registry["schema_mode"] = stores.registry_schema_mode
    online: dict[str, Any]
    if stores.online == "dynamodb":
        online = {"type": "dynamodb", "region": stores.region,
                  "table_name_template": dynamodb_table_name(stores.dynamodb_table_prefix, "{project}", "{table_name}")}
    else:
        online = {"type": "redis", "redis_type": "redis",
                  # redis.py `_parse_connection_string`: each `k=v` becomes a redis-py `Redis(**kwargs)` argument.
                  "connection_string": f"{stores.redis_endpoint},ssl=true,"
                  + (f"username={stores.redis_user}," if stores.redis_user else "")
                  + f"password=${{{REDIS_PASSWORD_ENV}}}"}
    offline: dict[str, Any] = {"type": "file"}
    if stores.offline == "athena":
        offline = {"type": "athena", "region": stores.region, "data_source": "AwsDataCatalog",
                   "database": stores.athena_database, "workgroup": stores.athena_workgroup,
                   "s3_staging_location": stores.athena_staging}
    doc = {"project": stores.project, "provider": "aws", "registry": registry, "online_store": online,
           "offline_store": offline, "entity_key_serialization_version": 3}
    validate(doc)
    return doc


def render(stores: FeastStores) -> str:
    """`feature_store.yaml` text, keys in Feast's documented order."""
    return yaml.safe_dump(build(stores), sort_keys=False)


def validate(doc: Any) -> FeatureStoreDoc:
    """Parse a `feature_store.yaml` document; raises pydantic's `ValidationError` naming the bad key."""
    if isinstance(doc, str):
        doc = yaml.safe_load(doc)
    return FeatureStoreDoc.model_validate(doc)
