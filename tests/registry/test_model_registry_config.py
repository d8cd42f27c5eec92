"""Model registry config: defaults per environment and the exact, path-qualified messages of bad config."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_infra.blocks.naming import truncate_name
from mlops_infra.config import ConfigError
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.registry.config import MlflowModelRegistryConfig, SageMakerModelRegistryConfig
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS

TLS = {"enabled": True, "host": "mlflow.example.com",
       "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"}


def raw(env: str = "dev", **registry: Any) -> dict[str, Any]:
    return {"environment": env, "tags": {"owner": "ml", "costCenter": "cc-1"},
            "cluster": {"loadBalancerController": True,
                        **(PROD_API_ACCESS if env == "prod" else {"publicAccessCidrs": ["203.0.113.0/24"]})},
            "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
            "securityBaseline": PROD_GUARDS if env == "prod" else {}, "modelRegistry": registry}


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
    assert problems(raw(engine="sagemaker")) == ["modelRegistry.modelNames: required"]
    assert problems(raw(engine="sagemaker", modelNames=["churn", "bad_name", "churn"])) == [
        "modelRegistry.modelNames[1]: invalid model package group name 'bad_name' (letters, digits and single "
        "hyphens, at most 63 characters)",
        "modelRegistry.modelNames[2]: duplicate model name 'churn'"]
    assert problems(raw(engine="sagemaker", modelNames=["a"], readerAccountIds=["12"])) == [
        "modelRegistry.readerAccountIds[0]: invalid value '12' (must match ^\\d{12}$)"]


def test_every_environment_gives_both_databases_the_same_profile() -> None:
    """#28: MLflow's backend store and the Feast SQL registry are the same Postgres block with the same profile."""
    for env in ("dev", "staging", "prod"):
        cfg = load_platform_config(raw(env))
        assert cfg.feature_store.registry_database == cfg.model_registry.database, env


def test_memory_below_the_measured_peak_and_unmeasured_workers_are_refused() -> None:
    assert problems(raw(server={"memory": "1Gi"})) == [
        "modelRegistry.server.memory: 1Gi is below the measured peak for 2 workers times 1.3 "
        f"({load_platform_config(raw()).model_registry.server.required_memory_mib}Mi); the server would be OOM-killed"]
    assert problems(raw(server={"workers": 3})) == [
        "modelRegistry.server.workers: no committed memory measurement for 3 workers (measured: [1, 2, 4])"]
    assert problems(raw(server={"image": "docker.io/burakince/mlflow:3.15.1"})) == [
        "modelRegistry.server.image: the memory measurement is for MLflow 3.14.0; re-measure "
        "(tests/programs/model_registry/measure_mlflow_memory.py) before changing the image"]
    server = load_platform_config(raw(server={"memory": "4Gi", "workers": 4})).model_registry.server
    assert server.effective_memory == "4Gi"


def test_in_cluster_auth_is_the_prod_default() -> None:
    prod = load_platform_config(raw("prod")).model_registry
    dev = load_platform_config(raw()).model_registry
    assert (prod.in_cluster_auth, dev.in_cluster_auth) == (True, False)
    # prod without ingress: MLflow's basic-auth app guards the in-cluster port.
    assert prod.server_argv("db", "s3://b/a")[-2:] == ["--app-name", "basic-auth"]
    assert "--app-name" not in dev.server_argv("db", "s3://b/a")


def test_ingress_needs_a_load_balancer_controller() -> None:
    data = raw(ingress={**TLS, "auth": "basic"})
    data["cluster"] = {"publicAccessCidrs": ["203.0.113.0/24"]}
    assert problems(data) == [
        "modelRegistry.ingress.enabled: the Ingress has class `alb`, which only the AWS Load Balancer Controller "
        "serves, and the cluster runs none (set cluster.loadBalancerController: true)"]


@pytest.mark.parametrize("name", ["a" * 62 + "-b", "mlops-production-registry-" + "x" * 36 + "-mlflow", "ab-", "short"])
def test_truncated_names_are_valid_dns_labels_and_sagemaker_names(name: str) -> None:
    """#31: a cut at 63 that lands on `-` must not leave it at the end (DNS-1123 labels and SageMaker's
    `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$` both need an alphanumeric last character)."""
    cut = truncate_name(name, 63)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", cut) and len(cut) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", cut)
    assert name.startswith(cut)
    if len(name) <= 63 and name[-1].isalnum():
        assert cut == name  # released names that already fit never change


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_engine_variants_hold_only_their_keys_and_profiles_layer_under_the_default_engine(env: str) -> None:
    """The profiles set MLflow keys (database, server.replicas, inClusterAuth): they configure the mlflow variant
    and never break a stack that picks sagemaker, whose variant has no such keys."""
    mlflow = load_platform_config(raw(env)).model_registry
    assert isinstance(mlflow, MlflowModelRegistryConfig)
    sagemaker = load_platform_config(raw(env, engine="sagemaker", modelNames=["churn"])).model_registry
    assert isinstance(sagemaker, SageMakerModelRegistryConfig) and sagemaker.model_names == ["churn"]
    assert not hasattr(sagemaker, "database") and not hasattr(mlflow, "model_names")


def test_keys_of_the_other_engine_are_reported_by_their_yaml_path() -> None:
    assert problems(raw(engine="sagemaker", modelNames=["churn"], database={"multiAz": True}, ingress=TLS)) == [
        "modelRegistry.database: unknown key for engine sagemaker (check the spelling, or the engine)",
        "modelRegistry.ingress: unknown key for engine sagemaker (check the spelling, or the engine)"]
    assert problems(raw(modelNames=["churn"], server={"replicas": 0})) == [
        "modelRegistry.server.replicas: must be >= 1 (got 0)",
        "modelRegistry.modelNames: unknown key for engine mlflow (check the spelling, or the engine)"]
    assert problems(raw(engine="vertex")) == [
        "modelRegistry.engine: must be one of 'mlflow' or 'sagemaker' (got 'vertex')"]
