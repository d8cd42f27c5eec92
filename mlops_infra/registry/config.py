"""Model registry config: MLflow on EKS with RDS Postgres, or SageMaker Model Package Groups.

`modelRegistry.engine` picks the variant (`MlflowModelRegistryConfig` or `SageMakerModelRegistryConfig`); each holds
only the keys its engine reads, and code narrows with `isinstance`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import Field, StringConstraints

from ..config.base import ConfigModel, Problem, engine_discriminator, engine_tag
from ..config.database import DatabaseConfig
from ..config.types import AcmCertificateArn, ImageRef, K8sName, SecretConfigKey

MLFLOW_HTTP_PORT = 5000
INGRESS_CLASS = "alb"
"""The IngressClass of the MLflow Ingress: served only by the AWS Load Balancer Controller."""
INGRESS_NEEDS = (f"the Ingress has class `{INGRESS_CLASS}`, which only the AWS Load Balancer Controller serves, and "
                 "the cluster runs none (set cluster.loadBalancerController: true)")
OAUTH2_PORT = 4180
PROMETHEUS_DIR = "/var/run/prometheus"
# `mlflow server` (MLflow 3.14.0, mlflow/server/__init__.py `_run_server`): with a database backend it starts a
# Huey job runner, one consumer per job queue and a periodic-tasks consumer (GenAI online scoring) unless
# MLFLOW_SERVER_ENABLE_JOB_EXECUTION is false (mlflow/environment_variables.py, default true). The platform runs
# no server-side jobs, so it is off. Measured with 4 workers: 8 more processes and ~1.4 GiB more RSS idle.
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
# MLflow 3.14.0's basic-auth app refuses to start without a static Flask secret key shared by every worker and
# replica (mlflow/server/auth/__init__.py `create_app`: "A static secret key needs to be set for CSRF protection").
FLASK_SECRET_KEY_ENV = "MLFLOW_FLASK_SERVER_SECRET_KEY"
# Prometheus scrapes a sidecar, not the server: MLflow 3.14.0's basic-auth app exempts only /static,
# /favicon.ico and /health (mlflow/server/auth/__init__.py `_UNPROTECTED_PATH_PREFIXES`), so /metrics on the
# server port answers 401 to a scrape. The server's exporter (prometheus_flask_exporter, multiprocess mode)
# writes its samples to PROMETHEUS_DIR; this sidecar serves them on METRICS_PORT without touching the API.
METRICS_PORT = 9102
METRICS_EXPORTER_SCRIPT = """
import os, threading
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
registry = CollectorRegistry()
MultiProcessCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
start_http_server(int(os.environ["METRICS_PORT"]), registry=registry)
threading.Event().wait()
""".strip()
# Peak RSS of the whole `mlflow server` process tree, measured with the platform's own rendered args (see the
# file's `method`); tests/programs/model_registry/measure_mlflow_memory.py regenerates it.
MEASUREMENT_FILE = Path(__file__).with_name("mlflow_memory.json")
MEMORY_MARGIN = 1.3
"""The memory limit is at least the measured burst peak for the configured workers times this margin."""
_T = TypeVar("_T")


@cache
def mlflow_memory_measurement() -> dict[str, Any]:
    """The committed measurement: `mlflowVersion`, `runs[]` with `workers`, `app`, `idleRssMib`, `burstRssMib`."""
    data: dict[str, Any] = json.loads(MEASUREMENT_FILE.read_text())
    return data


def measured_peak_mib(workers: int) -> float | None:
    """The largest burst peak (any app variant, job execution off) measured for `workers`, or None."""
    peaks = [r["burstRssMib"] for r in mlflow_memory_measurement()["runs"]
             if r["workers"] == workers and not r["jobExecution"]]
    return max(peaks) if peaks else None


def parse_memory_mib(quantity: str) -> float | None:
    """A Kubernetes memory quantity in MiB (`1Gi`, `768Mi`, `1G`, `536870912`); None if unparseable."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "": 1}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|)", quantity)
    return float(match.group(1)) * units[match.group(2)] / 2**20 if match else None


# SageMaker: ModelPackageGroupName pattern (CreateModelPackageGroup API reference).
_MODEL_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]


class IngressConfig(ConfigModel):
    """An ALB Ingress in front of the MLflow server, with its TLS certificate and authentication."""
    enabled: bool = Field(False, description="Expose MLflow through an ALB Ingress (class alb: needs "
                          "cluster.loadBalancerController). Default: false.")
    host: str | None = Field(None, description="Hostname. Required when enabled.")
    certificate_arn: AcmCertificateArn | None = Field(None, description="ACM certificate for TLS. Required when enabled.")
    auth: Literal["basic", "oidc"] = Field("oidc", description="basic (MLflow basic auth) or oidc (oauth2-proxy). Default: oidc.")
    oidc_issuer_url: str | None = Field(None, description="OIDC issuer (auth: oidc).")
    oidc_client_id: str | None = Field(None, description="OIDC client id (auth: oidc).")
    oidc_client_secret: SecretConfigKey | None = Field(
        None, description="Config key holding the OIDC client secret (auth: oidc).")
    internal: bool = Field(True, description="Internal ALB (not internet-facing). Default: true.")

    def problems(self) -> Iterable[Problem]:
        if not self.enabled:
            return
        if not self.host:
            yield "host", "required when ingress is enabled"
        elif "*" in self.host:
            yield "host", f"must not be a wildcard ({self.host!r})"
        if not self.certificate_arn:
            yield "certificateArn", "required when ingress is enabled (TLS is mandatory)"
        if self.auth == "oidc":
            if not self.oidc_issuer_url:
                yield "oidcIssuerUrl", "required when auth is oidc"
            elif not self.oidc_issuer_url.startswith("https://"):
                yield "oidcIssuerUrl", f"must be an https:// URL (got {self.oidc_issuer_url!r})"
            if not self.oidc_client_id:
                yield "oidcClientId", "required when auth is oidc"
            if not self.oidc_client_secret:
                yield "oidcClientSecret", "required when auth is oidc"


def _pinned(image: str) -> bool:
    return "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"))


class TrackingServerConfig(ConfigModel):
    # Pins checked Nov 2026 against community-charts/helm-charts charts/mlflow/Chart.yaml (chart 1.12.0,
    # `artifacthub.io/images`: burakince/mlflow:3.14.0, quay.io/oauth2-proxy/oauth2-proxy:v7.15.3). The
    # burakince image is MLflow with psycopg2, boto3 and the extras (Prometheus exporter) the server needs.
    """The MLflow tracking server: image, replicas and resources."""
    image: ImageRef = Field("docker.io/burakince/mlflow:3.14.0", description="Pinned MLflow image (with psycopg2 "
                            "and boto3). Default: docker.io/burakince/mlflow:3.14.0.")
    oauth2_proxy_image: ImageRef = Field("quay.io/oauth2-proxy/oauth2-proxy:v7.15.3",
                                         description="Pinned oauth2-proxy image (auth: oidc). Default: v7.15.3.")
    replicas: int = Field(2, ge=1, le=20, description="Replicas. Default: 2 (profile: dev 1).")
    workers: int = Field(2, ge=1, le=8, description="uvicorn worker processes per pod (`mlflow server --workers`; "
                         "MLflow's own default is 4). Must have a committed memory measurement. Default: 2.")
    cpu: str = Field("500m", description="CPU request and limit. Default: 500m.")
    memory: str | None = Field(
        None, description="Memory request and limit. Default: the measured burst peak of the server's process tree "
        f"for `workers` times {MEMORY_MARGIN}, rounded up to 64Mi (mlops_infra/registry/mlflow_memory.json).")

    @property
    def required_memory_mib(self) -> int | None:
        """Measured peak for `workers` times the margin, rounded up to 64 MiB; None when not measured."""
        peak = measured_peak_mib(self.workers)
        return None if peak is None else math.ceil(peak * MEMORY_MARGIN / 64) * 64

    @property
    def effective_memory(self) -> str:
        """What the server container requests and is limited to."""
        if self.memory is not None:
            return self.memory
        return f"{self.required_memory_mib}Mi"

    def problems(self) -> Iterable[Problem]:
        for key, image in (("image", self.image), ("oauth2ProxyImage", self.oauth2_proxy_image)):
            if not _pinned(image):
                yield key, f"must be pinned by a tag other than latest, or a digest (got {image!r})"
        measurement = mlflow_memory_measurement()
        last = self.image.split("@", 1)[0].rsplit("/", 1)[-1]
        if _pinned(self.image) and ":" in last and last.split(":", 1)[1] != measurement["mlflowVersion"]:
            yield "image", (f"the memory measurement is for MLflow {measurement['mlflowVersion']}; re-measure "
                            f"(tests/programs/model_registry/measure_mlflow_memory.py) before changing the image")
        required = self.required_memory_mib
        if required is None:
            measured = sorted({r["workers"] for r in measurement["runs"]})
            yield "workers", f"no committed memory measurement for {self.workers} workers (measured: {measured})"
        elif self.memory is not None:
            mib = parse_memory_mib(self.memory)
            if mib is None:
                yield "memory", f"not a Kubernetes memory quantity ({self.memory!r})"
            elif mib < required:
                yield "memory", (f"{self.memory} is below the measured peak for {self.workers} workers times "
                                 f"{MEMORY_MARGIN} ({required}Mi); the server would be OOM-killed")


class MlflowModelRegistryConfig(ConfigModel):
    """engine mlflow: the MLflow tracking server on EKS, RDS Postgres backend store, S3 artifacts."""

    enabled: bool = Field(True, description="Deploy the model registry. Default: true.")
    engine: Literal["mlflow"] = Field("mlflow", description="mlflow or sagemaker. Default: mlflow.")
    namespace: K8sName = Field("mlflow", description="Kubernetes namespace. Default: mlflow.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="RDS Postgres backend store.")
    server: TrackingServerConfig = Field(default_factory=TrackingServerConfig, description="Tracking server.")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Optional ALB Ingress.")
    in_cluster_auth: bool = Field(
        False, description="Require authentication from in-cluster clients too: MLflow's basic-auth app, or with "
        "ingress auth oidc the server listens on 127.0.0.1 only and every client goes through oauth2-proxy "
        "(IdP bearer tokens). Default: false (profile: prod true).")

    @property
    def oidc(self) -> bool:
        """oauth2-proxy runs beside the server (ingress auth oidc)."""
        return self.ingress.enabled and self.ingress.auth == "oidc"

    @property
    def basic_auth(self) -> bool:
        """MLflow's basic-auth app: ingress auth basic, or in-cluster auth without oauth2-proxy."""
        return (self.ingress.enabled and self.ingress.auth == "basic") or (self.in_cluster_auth and not self.oidc)

    @property
    def loopback_only(self) -> bool:
        """The server binds 127.0.0.1: only the oauth2-proxy sidecar reaches it."""
        return self.oidc and self.in_cluster_auth

    @property
    def api_port(self) -> int:
        """The port in-cluster clients call: oauth2-proxy's when the server is loopback-only."""
        return OAUTH2_PORT if self.loopback_only else MLFLOW_HTTP_PORT

    def allowed_hosts(self, service: str, namespace: str) -> list[str]:
        """MLFLOW_SERVER_ALLOWED_HOSTS (DNS-rebinding guard, MLflow >= 3.5). MLflow 3.14.0 compares each entry
        with the whole Host header, port included, by equality, or by `fnmatch` when the entry has a `*`
        (mlflow/server/security_utils.py `is_allowed_host_header`); /health and /version skip the check.
        So every Service name a client may use (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`) is
        listed bare and with each port, plus the Ingress host, loopback (oauth2-proxy's upstream) and pod IPs
        in the RFC 1918 ranges (probes)."""
        names = [service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
                 f"{service}.{namespace}.svc.cluster.local"]
        ports = [MLFLOW_HTTP_PORT, *([OAUTH2_PORT] if self.oidc else [])]
        hosts = [h for n in names for h in (n, *(f"{n}:{p}" for p in ports))]
        if self.ingress.enabled and self.ingress.host:
            hosts += [self.ingress.host, f"{self.ingress.host}:443"]
        return [*hosts, "localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "10.*",
                *(f"172.{i}.*" for i in range(16, 32)), "192.168.*"]

    def server_argv(self, backend_uri: _T, artifacts_destination: _T) -> list[str | _T]:
        """`mlflow <argv>` for the tracking server: what the pod runs and what the memory measurement ran."""
        argv: list[str | _T] = [
            "server", "--host", "127.0.0.1" if self.loopback_only else "0.0.0.0", "--port", str(MLFLOW_HTTP_PORT),
            "--backend-store-uri", backend_uri,
            "--serve-artifacts", "--artifacts-destination", artifacts_destination,
            "--expose-prometheus", PROMETHEUS_DIR, "--workers", str(self.server.workers)]
        if self.basic_auth:
            argv += ["--app-name", "basic-auth"]
        return argv


class SageMakerModelRegistryConfig(ConfigModel):
    """engine sagemaker: SageMaker Model Package Groups (artifacts in the registry's S3 bucket)."""

    enabled: bool = Field(True, description="Deploy the model registry. Default: true.")
    engine: Literal["sagemaker"] = Field("sagemaker", description="mlflow or sagemaker. Default: mlflow.")
    model_names: list[str] = Field(..., min_length=1, description="Model package groups. Required (at least one).")
    reader_account_ids: list[AccountId] = Field(
        default_factory=list, description="Accounts the package groups' resource policy lets read and deploy "
        "models. Default: none (this account only).")

    def problems(self) -> Iterable[Problem]:
        seen: set[str] = set()
        for i, model in enumerate(self.model_names):
            if not _MODEL_GROUP_NAME.match(model):
                yield f"modelNames[{i}]", (f"invalid model package group name {model!r} (letters, digits and "
                                           "single hyphens, at most 63 characters)")
            if model in seen:
                yield f"modelNames[{i}]", f"duplicate model name {model!r}"
            seen.add(model)


ModelRegistryConfig = Annotated[
    Union[Annotated[MlflowModelRegistryConfig, engine_tag("mlflow")],  # noqa: UP007 (Annotated members)
          Annotated[SageMakerModelRegistryConfig, engine_tag("sagemaker")]],
    engine_discriminator("mlflow")]
"""`modelRegistry`: the variant named by `engine` (default mlflow)."""
