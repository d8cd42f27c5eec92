"""Model registry config: MLflow on EKS with RDS Postgres, or SageMaker Model Package Groups."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .base import ConfigModel, Problem
from .types import AcmCertificateArn, ImageRef, K8sName, SecretConfigKey

SUPPORTED_POSTGRES_MAJOR = ("15", "16", "17")
# SageMaker: ModelPackageGroupName pattern (CreateModelPackageGroup API reference).
_MODEL_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]


class DatabaseConfig(ConfigModel):
    engine_version: str = Field(
        "16", description=f"Postgres major (or major.minor) version (majors {', '.join(SUPPORTED_POSTGRES_MAJOR)}). "
        "Default: 16. A major alone lets auto minor upgrades proceed without drift.")
    instance_class: str = Field("db.m7g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
                                description="RDS instance class. Default: db.m7g.large (profile: dev db.t4g.medium).")
    allocated_storage_gib: int = Field(50, ge=20, le=65536, description="gp3 storage (GiB). Default: 50.")
    max_allocated_storage_gib: int = Field(200, ge=20, le=65536, description="Storage autoscaling cap (GiB). Default: 200.")
    backup_retention_days: int = Field(14, ge=1, description="Backup retention, 1-35 days. Default: 14 (profiles: dev 3, staging 7).")
    multi_az: bool = Field(True, description="Multi-AZ deployment. Default: true (profiles: dev/staging false).")
    deletion_protection: bool = Field(True, description="Deletion protection and final snapshot. Default: true (profile: dev false).")
    monitoring_interval_seconds: Literal[0, 1, 5, 10, 15, 30, 60] = Field(
        60, description="Enhanced Monitoring interval (0 = off). Default: 60.")

    def problems(self) -> Iterable[Problem]:
        if not re.fullmatch(r"\d+(\.\d+)?", self.engine_version) \
                or self.engine_version.split(".")[0] not in SUPPORTED_POSTGRES_MAJOR:
            yield ("engineVersion", f"unsupported Postgres version {self.engine_version!r} "
                   f"(supported majors: {', '.join(SUPPORTED_POSTGRES_MAJOR)})")
        if self.backup_retention_days > 35:
            yield "backupRetentionDays", f"must be <= 35 (got {self.backup_retention_days})"
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            yield "maxAllocatedStorageGib", "must be >= allocatedStorageGib"

    @property
    def major_version(self) -> str:
        return self.engine_version.split(".")[0]


class IngressConfig(ConfigModel):
    enabled: bool = Field(False, description="Expose MLflow through an ALB Ingress. Default: false.")
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
    image: ImageRef = Field("docker.io/burakince/mlflow:3.14.0", description="Pinned MLflow image (with psycopg2 "
                            "and boto3). Default: docker.io/burakince/mlflow:3.14.0.")
    oauth2_proxy_image: ImageRef = Field("quay.io/oauth2-proxy/oauth2-proxy:v7.15.3",
                                         description="Pinned oauth2-proxy image (auth: oidc). Default: v7.15.3.")
    replicas: int = Field(2, ge=1, le=20, description="Replicas. Default: 2 (profile: dev 1).")
    cpu: str = Field("500m", description="CPU request and limit. Default: 500m.")
    memory: str = Field("1Gi", description="Memory request and limit. Default: 1Gi.")

    def problems(self) -> Iterable[Problem]:
        for key, image in (("image", self.image), ("oauth2ProxyImage", self.oauth2_proxy_image)):
            if not _pinned(image):
                yield key, f"must be pinned by a tag other than latest, or a digest (got {image!r})"


class ModelRegistryConfig(ConfigModel):
    enabled: bool = Field(True, description="Deploy the model registry. Default: true.")
    engine: Literal["mlflow", "sagemaker"] = Field("mlflow", description="mlflow or sagemaker. Default: mlflow.")
    namespace: K8sName = Field("mlflow", description="Kubernetes namespace. Default: mlflow.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="RDS Postgres backend store.")
    server: TrackingServerConfig = Field(default_factory=TrackingServerConfig, description="Tracking server.")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Optional ALB Ingress.")
    model_names: list[str] = Field(default_factory=list, description="Model package groups (engine: sagemaker).")
    reader_account_ids: list[AccountId] = Field(
        default_factory=list, description="Accounts the package groups' resource policy lets read and deploy "
        "models (engine: sagemaker). Default: none (this account only).")

    def problems(self) -> Iterable[Problem]:
        if self.engine == "sagemaker" and not self.model_names:
            yield "modelNames", "at least one model name is required when engine is sagemaker"
        seen: set[str] = set()
        for i, model in enumerate(self.model_names):
            if not _MODEL_GROUP_NAME.match(model):
                yield f"modelNames[{i}]", (f"invalid model package group name {model!r} (letters, digits and "
                                           "single hyphens, at most 63 characters)")
            if model in seen:
                yield f"modelNames[{i}]", f"duplicate model name {model!r}"
            seen.add(model)
