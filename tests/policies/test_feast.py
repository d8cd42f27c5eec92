"""Feast policies: the server's read-only SQL registry user (issue 14 #22) and s3fs for S3 parquet (issue 14 #17)."""

from __future__ import annotations

from typing import Any

import yaml

from mlops_infra.features import feast_config

from .cases import Case, check, params
from .helpers import R

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CRONJOB = "kubernetes:batch/v1:CronJob"
STOCK = "quay.io/feastdev/feature-server:0.66.0"
BUILT = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/feast-s3:0.66.0"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RDS = "aws:rds/instance:Instance"
OWNER_PATH = feast_config.registry_sql_url("db.example", 5432, "feast", "feast")
READER_PATH = feast_config.registry_sql_url("db.example", 5432, "feast", "feast_reader",
                                            feast_config.REGISTRY_READER_PASSWORD_ENV)


def feast_yaml(registry: str = "s3://b/registry/registry.db", offline: str = "file") -> str:
    """The text the component renders (feast_config.render), so the policy reads the real shape."""
    return feast_config.render(feast_config.FeastStores(
        project="mlops", region="us-east-1", registry_path=registry, online="dynamodb", dynamodb_table_prefix="fs",
        offline=offline, athena_database="db", athena_workgroup="wg", athena_staging="s3://b/staging/feast"))  # type: ignore[arg-type]


def config_map(name: str = "fs-config", deps: dict[str, list[str]] | None = None, **kw: Any) -> R:
    return R(CONFIG_MAP, name, {"metadata": {"name": name, "namespace": "feast"},
                                "data": {"feature_store.yaml": feast_yaml(**kw)}}, deps=deps or {})


def server(registry: str, command: str = "serve") -> list[R]:
    """RDS owner `feast`, the server's ConfigMap (built from the RDS address), and the server Deployment."""
    pod = {"containers": [{"name": "feature-server", "image": STOCK,
                           "command": ["feast", "-f", "/feast/feature_store.yaml", command, "-p", "6566"]}]}
    return [R(RDS, "fs-registry", {"username": "feast", "dbName": "feast"}),
            config_map("fs-server-config", deps={"data": ["fs-registry"]}, registry=registry),
            R(DEPLOYMENT, "fs-server", {"spec": {"template": {"spec": pod}}}, deps={"spec": ["fs-server-config"]})]


def materializer(image: str, offline: str = "file", command: str = "exec feast materialize-incremental now") -> list[R]:
    pod = {"containers": [{"name": "materialize", "image": image, "command": ["/bin/sh", "-c", command]}],
           "volumes": [{"name": "config", "configMap": {"name": "fs-config"}}]}
    job = R(CRONJOB, "fs-materialize", {"metadata": {"namespace": "feast"},
                                        "spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}},
            deps={"spec": ["fs-config"]})
    return [config_map(offline=offline), job]


SQL_MSG = "fs-server: feature server reads the SQL registry as feast, the database's owner (fs-server-config)"
S3FS_MSG = (f"fs-materialize: materializes from the file offline store on S3 (dask/fsspec needs s3fs) with {STOCK}, "
            "which has no s3fs")

CASES = [
    Case("reader", "mlops-feast-server-registry-read-only", server(READER_PATH), []),
    Case("s3-registry", "mlops-feast-server-registry-read-only", server("s3://b/registry/registry.db"), []),
    Case("not-a-server", "mlops-feast-server-registry-read-only", server(OWNER_PATH, command="version"), []),
    Case("owner", "mlops-feast-server-registry-read-only", server(OWNER_PATH), [SQL_MSG]),
    Case("built-image", "mlops-feast-s3-parquet-needs-s3fs", materializer(BUILT), []),
    Case("athena-offline", "mlops-feast-s3-parquet-needs-s3fs", materializer(STOCK, offline="athena"), []),
    Case("not-materializing", "mlops-feast-s3-parquet-needs-s3fs", materializer(STOCK, command="feast version"), []),
    Case("stock-image", "mlops-feast-s3-parquet-needs-s3fs", materializer(STOCK), [S3FS_MSG]),
]


@params(CASES)
def test_feast_policies(case: Case) -> None:
    check(case)


def test_the_fixture_is_what_the_component_renders() -> None:
    assert yaml.safe_load(feast_yaml(registry=OWNER_PATH))["registry"]["registry_type"] == "sql"
