"""Feast: what the generated `feature_store.yaml` asks of the pods that load it.

- The feature server reads a SQL registry as a read-only database user, not as the database's owner: with the
  owner's login (the RDS master user) the read-only server could rewrite or drop the registry. The platform's
  server connects as `feast_reader` (created by the registry bootstrap Job) with `schema_mode: verify`.
- The file offline store reads `s3://` parquet through dask/fsspec (feast/infra/offline_stores/dask.py
  `_read_datasource`), which needs s3fs; the stock feature-server image installs `feast[minimal]`, which has none
  (images/feast/Dockerfile says where that was read). A materialization run on it fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import yaml

from .core import NotApplicable, Resource, Stack, as_list, each, known, stack_policy

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RDS = "aws:rds/instance:Instance"
JOBS = ("kubernetes:batch/v1:CronJob", "kubernetes:batch/v1:Job")
FEATURE_STORE_YAML = "feature_store.yaml"
# Images known to lack s3fs: the upstream feature-server images (quay.io since 0.47, Docker Hub before).
NO_S3FS_IMAGES = ("quay.io/feastdev/feature-server:", "feastdev/feature-server:", "docker.io/feastdev/feature-server:")


def feast_doc(config_map: Resource) -> Mapping[str, Any] | None:
    """The parsed `feature_store.yaml` of a ConfigMap, None when it holds none; NotApplicable while unknown."""
    data = known(config_map.get("data"), "data")
    text = data.get(FEATURE_STORE_YAML) if isinstance(data, Mapping) else None
    if text is None:
        return None
    parsed = yaml.safe_load(known(text, FEATURE_STORE_YAML))
    return parsed if isinstance(parsed, Mapping) else None


def _pod_spec(workload: Resource) -> Mapping[str, Any]:
    spec = known(workload.get("spec"), "spec")
    if workload.type.endswith(":CronJob"):
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    return pod if isinstance(pod, Mapping) else {}


def _commands(workload: Resource) -> list[tuple[Mapping[str, Any], str]]:
    containers = [c for c in as_list(_pod_spec(workload).get("containers")) if isinstance(c, Mapping)]
    return [(c, " ".join(str(a) for a in as_list(c.get("command")))) for c in containers]


@stack_policy(
    "mlops-feast-server-registry-read-only",
    description="The Feast feature server reads its SQL registry as a database user other than the owner.",
    severity="medium", pack="mlops-security",
    controls=("SOC2 CC6.3", "ISO27001 A.5.15", "NIST 800-53 AC-6"),
    remediation="Give the server its own feature_store.yaml whose registry URL names a read-only user (the "
                "platform's FeatureStore does: feast_reader, schema_mode verify), or use the S3 registry.",
)
def server_registry_read_only(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(deployment: Resource) -> Iterable[str]:
        if not any("feast" in cmd and " serve" in cmd for _, cmd in _commands(deployment)):
            return
        for config_map in stack.referenced(deployment, "spec", [CONFIG_MAP]):
            registry = (feast_doc(config_map) or {}).get("registry")
            if not isinstance(registry, Mapping) or registry.get("registry_type") != "sql":
                continue
            user = urlsplit(str(registry.get("path", ""))).username
            owners = {known(db.get("username"), "username") for db in stack.referenced(config_map, "data", [RDS])}
            if user in owners:
                yield f"feature server reads the SQL registry as {user}, the database's owner ({config_map.name})"

    yield from each(stack.of_type(DEPLOYMENT), check)


@stack_policy(
    "mlops-feast-s3-parquet-needs-s3fs",
    description="A Feast materialization that reads the file offline store on S3 runs an image with s3fs.",
    severity="high", pack="mlops-invariants",
    controls=("SOC2 A1.2",),
    remediation="Build images/feast/Dockerfile (the pinned Feast image plus s3fs), push it to ECR and set "
                "featureStore.materializationImage; or use featureStore.offline.engine: athena.",
)
def s3_parquet_needs_s3fs(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(job: Resource) -> Iterable[str]:
        runs = [c for c, cmd in _commands(job) if "materialize" in cmd]
        if not runs:
            return
        docs = [feast_doc(cm) for cm in stack.referenced(job, "spec", [CONFIG_MAP])]
        if not any(isinstance(d, Mapping) and (d.get("offline_store") or {}).get("type") == "file" for d in docs):
            return
        for container in runs:
            image = container.get("image")
            if not isinstance(image, str):
                raise NotApplicable("image is not known yet")
            if image.startswith(NO_S3FS_IMAGES):
                yield (f"materializes from the file offline store on S3 (dask/fsspec needs s3fs) with {image}, "
                       "which has no s3fs")

    yield from each(stack.of_type(*JOBS), check)
