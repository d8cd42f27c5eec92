"""Feature store config messages (through `load_platform_config`) and the pure feature_store.yaml builder."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mlops_infra.config import ConfigError
from mlops_infra.features import feast_config
from mlops_infra.features.config import FeastFeatureStoreConfig as FeatureStoreConfig
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS

BASE: dict[str, Any] = {
    "environment": "dev",
    "tags": {"owner": "ml-platform", "costCenter": "cc-1"},
    "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
}
GROUP = {"name": "drivers", "recordIdentifier": "driver_id", "features": {"driver_id": "String"}}


def problems(feature_store: dict[str, Any]) -> list[str]:
    raw = copy.deepcopy(BASE) | {"featureStore": feature_store}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    return info.value.problems


@pytest.mark.parametrize(("section", "expected"), [
    ({"engine": "spark"}, ["featureStore.engine: must be one of 'feast' or 'sagemaker' (got 'spark')"]),
    ({"materializationSchedule": "every hour"},
     ["featureStore.materializationSchedule: not a valid cron expression ('every hour': expected 5 fields, got 2)"]),
    ({"materializationSchedule": "0 25 * * *"},
     ["featureStore.materializationSchedule: not a valid cron expression ('0 25 * * *')"]),
    ({"online": {"type": "redis", "featureViews": ["drivers"]}},
     ["featureStore.online.featureViews: only used with type dynamodb (Redis needs no tables)"]),
    ({"online": {"featureViews": ["drivers", "drivers"]}},
     ["featureStore.online.featureViews[1]: duplicate feature view 'drivers'"]),
    ({"online": {"featureViews": ["Bad-Name"]}},
     ["featureStore.online.featureViews[0]: invalid value 'Bad-Name' (must match ^[a-z][a-z0-9_]*$)"]),
    ({"engine": "sagemaker"}, ["featureStore.featureGroups: required"]),
    ({"engine": "sagemaker", "featureGroups": []}, ["featureStore.featureGroups: must have at least 1 item(s)"]),
    # Keys of the other engine are errors, named by their YAML path (no variant tag in it), all at once.
    ({"engine": "sagemaker", "featureGroups": [GROUP], "online": {"type": "redis"}, "registry": "sql"},
     ["featureStore.online: unknown key for engine sagemaker (check the spelling, or the engine)",
      "featureStore.registry: unknown key for engine sagemaker (check the spelling, or the engine)"]),
    ({"featureGroups": [GROUP]},
     ["featureStore.featureGroups: unknown key for engine feast (check the spelling, or the engine)"]),
    ({"online": {"type": "memcached"}, "server": {"minReplicas": 0}},
     ["featureStore.online.type: must be one of 'dynamodb' or 'redis' (got 'memcached')",
      "featureStore.server.minReplicas: must be >= 1 (got 0)"]),
    ({"engine": "sagemaker", "featureGroups": [GROUP | {"recordIdentifier": "id"}]},
     ["featureStore.featureGroups[0].recordIdentifier: 'id' is not one of the features"]),
    ({"engine": "sagemaker", "featureGroups": [GROUP, GROUP]},
     ["featureStore.featureGroups[1].name: duplicate feature group 'drivers'"]),
    ({"online": {"redisSnapshotRetentionDays": 0}}, ["featureStore.online.redisSnapshotRetentionDays: must be >= 1 (got 0)"]),
])
def test_bad_config_fails_with_path_qualified_messages(section: dict[str, Any], expected: list[str]) -> None:
    assert problems(section) == expected


def test_profiles_set_online_protection_per_environment() -> None:
    dev = load_platform_config(BASE).feature_store.online
    receivers = {"receivers": {"emailAddresses": ["oncall@example.com"]}}  # prod requires an alert subscriber
    prod = load_platform_config(BASE | {"environment": "prod", "cluster": PROD_API_ACCESS, "monitoring": receivers,
                                        "securityBaseline": PROD_GUARDS}).feature_store.online
    assert (dev.deletion_protection, dev.multi_az) == (False, False)
    assert (prod.deletion_protection, prod.multi_az) == (True, True)


def test_network_problems_for_private_stores() -> None:
    redis_sql = FeatureStoreConfig.model_validate({"online": {"type": "redis"}, "registry": "sql"})
    assert redis_sql.network_problems(0) == [
        ("online.type", "redis needs private subnets, and the network has none"),
        ("registry", "sql needs private subnets for its database, and the network has none")]
    assert redis_sql.network_problems(2) == []
    assert FeatureStoreConfig().network_problems(0) == []  # DynamoDB and S3 need no subnets


STORES = feast_config.FeastStores(
    project="mlops", region="eu-west-1", registry_path="s3://b/registry/registry.db", online="dynamodb",
    dynamodb_table_prefix="mlops-dev-fs", offline="athena", athena_database="db", athena_workgroup="wg",
    athena_staging="s3://b/staging/feast")


def test_rendered_yaml_names_exactly_the_given_stores() -> None:
    doc = yaml.safe_load(feast_config.render(STORES))
    assert doc == {
        "project": "mlops", "provider": "aws",
        "registry": {"registry_type": "file", "path": "s3://b/registry/registry.db", "cache_ttl_seconds": 60},
        "online_store": {"type": "dynamodb", "region": "eu-west-1", "table_name_template": "mlops-dev-fs.{project}.{table_name}"},
        "offline_store": {"type": "athena", "region": "eu-west-1", "data_source": "AwsDataCatalog", "database": "db",
                          "workgroup": "wg", "s3_staging_location": "s3://b/staging/feast"},
        "entity_key_serialization_version": 3,
    }
    assert doc["online_store"]["table_name_template"].format(project="mlops", table_name="v") == \
        feast_config.dynamodb_table_name("mlops-dev-fs", "mlops", "v")


def test_redis_and_sql_registry_passwords_are_env_references() -> None:
    url = feast_config.registry_sql_url("db.example", 5432, "feast", "feast")
    assert url == "postgresql+psycopg://feast:${FEAST_REGISTRY_PASSWORD}@db.example:5432/feast?sslmode=require"
    stores = feast_config.FeastStores(project="p", region="us-east-1", registry_path=url, online="redis",
                                      redis_endpoint="master.r.cache.amazonaws.com:6379")
    doc = feast_config.build(stores)
    assert doc["registry"]["registry_type"] == "sql"
    assert doc["online_store"]["connection_string"] == \
        "master.r.cache.amazonaws.com:6379,ssl=true,password=${FEAST_REDIS_PASSWORD}"


@pytest.mark.parametrize(("path", "value", "location"), [
    (("online_store", "table_name_templat"), "x", ("online_store", "dynamodb", "table_name_templat")),
    (("online_store", "table_name_template"), "fixed-name", ("online_store", "dynamodb", "table_name_template")),
    (("offline_store", "type"), "bigquery", ("offline_store",)),
    (("registry", "registry_type"), "remote", ("registry", "registry_type")),
    (("entity_key_serialization_version",), 2, ("entity_key_serialization_version",)),
    (("feature_server_typo",), {}, ("feature_server_typo",)),
])
def test_validation_rejects_unknown_keys_and_unsafe_values(path: tuple[str, ...], value: Any, location: tuple[str, ...]) -> None:
    doc = feast_config.build(STORES)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError) as info:
        feast_config.validate(yaml.safe_dump(doc))
    assert [tuple(e["loc"]) for e in info.value.errors()] == [location]


def test_materialization_image_defaults_to_the_server_image() -> None:
    assert FeatureStoreConfig().effective_materialization_image == "quay.io/feastdev/feature-server:0.66.0"
    built = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/feast-s3:0.66.0"
    assert FeatureStoreConfig.model_validate({"materializationImage": built}).effective_materialization_image == built
    assert "materializationImage" in " ".join(problems({"materializationImage": "not an image!"}))


def test_the_s3fs_image_is_built_on_the_feature_server_image_the_stack_pins() -> None:
    """images/feast/Dockerfile adds s3fs to the server's image: same Feast, same installer (uv, which the v0.66.0
    base ships at /usr/local/bin/uv: multicloud/Dockerfile at tag v0.66.0), same fsspec. A pin bump must move both."""
    dockerfile = (Path(__file__).resolve().parents[2] / "images" / "feast" / "Dockerfile").read_text()
    [base] = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert base == FeatureStoreConfig().server.image
