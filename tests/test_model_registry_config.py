"""Model registry config: defaults per environment and the exact, path-qualified messages of bad config."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.config import ConfigError, load_platform_config

TLS = {"enabled": True, "host": "mlflow.example.com",
       "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"}


def raw(env: str = "dev", **registry: Any) -> dict[str, Any]:
    return {"environment": env, "tags": {"owner": "ml", "costCenter": "cc-1"},
            "cluster": {} if env == "prod" else {"publicAccessCidrs": ["203.0.113.0/24"]},
            "modelRegistry": registry}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_platform_config(data)
    return info.value.problems


def test_environment_defaults() -> None:
    dev = load_platform_config(raw()).model_registry
    prod = load_platform_config(raw("prod")).model_registry
    assert (dev.database.multi_az, dev.database.instance_class, dev.database.backup_retention_days,
            dev.database.deletion_protection, dev.server.replicas) == (False, "db.t4g.medium", 3, False, 1)
    assert (prod.database.multi_az, prod.database.instance_class, prod.database.backup_retention_days,
            prod.database.deletion_protection, prod.server.replicas) == (True, "db.m7g.large", 14, True, 2)
    assert prod.database.engine_version == "16" and prod.database.major_version == "16"


@pytest.mark.parametrize(("database", "message"), [
    ({"engineVersion": "13.4"},
     "modelRegistry.database.engineVersion: unsupported Postgres version '13.4' (supported majors: 15, 16, 17)"),
    ({"engineVersion": "latest"},
     "modelRegistry.database.engineVersion: unsupported Postgres version 'latest' (supported majors: 15, 16, 17)"),
    ({"backupRetentionDays": 40}, "modelRegistry.database.backupRetentionDays: must be <= 35 (got 40)"),
    ({"allocatedStorageGib": 300}, "modelRegistry.database.maxAllocatedStorageGib: must be >= allocatedStorageGib"),
    ({"monitoringIntervalSeconds": 7},
     "modelRegistry.database.monitoringIntervalSeconds: must be one of 0, 1, 5, 10, 15, 30 or 60 (got 7)"),
])
def test_database_problems(database: dict[str, Any], message: str) -> None:
    assert problems(raw(database=database)) == [message]


def test_minor_versions_of_supported_majors_are_accepted() -> None:
    assert load_platform_config(raw(database={"engineVersion": "17.2"})).model_registry.database.major_version == "17"


@pytest.mark.parametrize(("ingress", "messages"), [
    ({"enabled": True, "host": "mlflow.example.com", "auth": "basic"},
     ["modelRegistry.ingress.certificateArn: required when ingress is enabled (TLS is mandatory)"]),
    ({**TLS, "host": "*.example.com", "auth": "basic"}, ["modelRegistry.ingress.host: must not be a wildcard ('*.example.com')"]),
    ({**TLS, "auth": "oidc"}, ["modelRegistry.ingress.oidcIssuerUrl: required when auth is oidc",
                               "modelRegistry.ingress.oidcClientId: required when auth is oidc",
                               "modelRegistry.ingress.oidcClientSecret: required when auth is oidc"]),
    ({**TLS, "oidcIssuerUrl": "http://idp", "oidcClientId": "c", "oidcClientSecret": "k"},
     ["modelRegistry.ingress.oidcIssuerUrl: must be an https:// URL (got 'http://idp')"]),
])
def test_ingress_problems(ingress: dict[str, Any], messages: list[str]) -> None:
    assert problems(raw(ingress=ingress)) == messages


def test_oidc_client_secret_must_be_a_secret_config_key() -> None:
    ingress = {**TLS, "oidcIssuerUrl": "https://idp", "oidcClientId": "c", "oidcClientSecret": "mlflowOidc"}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw(ingress=ingress), secret_keys=set())
    assert info.value.problems == ["modelRegistry.ingress.oidcClientSecret: config key 'mlops:mlflowOidc' is not set "
                                   "as a secret (pulumi config set --secret mlflowOidc ...)"]
    assert load_platform_config(raw(ingress=ingress), secret_keys={"mlflowOidc"}).model_registry.ingress.enabled


def test_images_must_be_pinned() -> None:
    assert problems(raw(server={"image": "docker.io/burakince/mlflow:latest", "oauth2ProxyImage": "quay.io/o/p"})) == [
        "modelRegistry.server.image: must be pinned by a tag other than latest, or a digest "
        "(got 'docker.io/burakince/mlflow:latest')",
        "modelRegistry.server.oauth2ProxyImage: must be pinned by a tag other than latest, or a digest "
        "(got 'quay.io/o/p')"]


def test_sagemaker_problems() -> None:
    assert problems(raw(engine="sagemaker")) == [
        "modelRegistry.modelNames: at least one model name is required when engine is sagemaker"]
    assert problems(raw(engine="sagemaker", modelNames=["churn", "bad_name", "churn"])) == [
        "modelRegistry.modelNames[1]: invalid model package group name 'bad_name' (letters, digits and single "
        "hyphens, at most 63 characters)",
        "modelRegistry.modelNames[2]: duplicate model name 'churn'"]
    assert problems(raw(engine="sagemaker", modelNames=["a"], readerAccountIds=["12"])) == [
        "modelRegistry.readerAccountIds[0]: invalid value '12' (must match ^\\d{12}$)"]
