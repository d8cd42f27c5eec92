"""Model registry config: MLflow on EKS with RDS Postgres, or SageMaker Model Package Groups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from .base import ConfigModel, Problem
from .types import AcmCertificateArn, ChartVersion, ImageRef, K8sName, SecretConfigKey

SUPPORTED_POSTGRES_MAJOR = ("15", "16", "17")


class DatabaseConfig(ConfigModel):
    engine_version: str = Field("16.6", description=f"Postgres version (major {', '.join(SUPPORTED_POSTGRES_MAJOR)}). Default: 16.6.")
    instance_class: str = Field("db.m7g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
                                description="RDS instance class. Default: db.m7g.large (profile: dev db.t4g.medium).")
    allocated_storage_gib: int = Field(50, ge=20, le=65536, description="gp3 storage (GiB). Default: 50.")
    max_allocated_storage_gib: int = Field(200, ge=20, le=65536, description="Storage autoscaling cap (GiB). Default: 200.")
    backup_retention_days: int = Field(14, ge=1, description="Backup retention, 1-35 days. Default: 14 (profiles: dev 3, staging 7).")
    multi_az: bool = Field(True, description="Multi-AZ deployment. Default: true (profiles: dev/staging false).")
    deletion_protection: bool = Field(True, description="Deletion protection and final snapshot. Default: true (profile: dev false).")

    def problems(self) -> Iterable[Problem]:
        if self.engine_version.split(".")[0] not in SUPPORTED_POSTGRES_MAJOR:
            yield ("engineVersion", f"unsupported Postgres version {self.engine_version!r} "
                   f"(supported majors: {', '.join(SUPPORTED_POSTGRES_MAJOR)})")
        if self.backup_retention_days > 35:
            yield "backupRetentionDays", f"must be <= 35 (got {self.backup_retention_days})"
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            yield "maxAllocatedStorageGib", "must be >= allocatedStorageGib"


class IngressConfig(ConfigModel):
    enabled: bool = Field(False, description="Expose MLflow through an ALB Ingress. Default: false.")
    host: str | None = Field(None, description="Hostname. Required when enabled.")
    certificate_arn: AcmCertificateArn | None = Field(None, description="ACM certificate for TLS. Required when enabled.")
    auth: Literal["basic", "oidc"] = Field("oidc", description="basic (MLflow basic auth) or oidc (oauth2-proxy). Default: oidc.")
    oidc_issuer_url: str | None = Field(None, description="OIDC issuer (auth: oidc).")
    oidc_client_secret: SecretConfigKey | None = Field(
        None, description="Config key holding the OIDC client secret (auth: oidc).")
    internal: bool = Field(True, description="Internal ALB (not internet-facing). Default: true.")

    def problems(self) -> Iterable[Problem]:
        if not self.enabled:
            return
        if not self.host:
            yield "host", "required when ingress is enabled"
        if not self.certificate_arn:
            yield "certificateArn", "required when ingress is enabled (TLS is mandatory)"
        if self.auth == "oidc":
            if not self.oidc_issuer_url:
                yield "oidcIssuerUrl", "required when auth is oidc"
            if not self.oidc_client_secret:
                yield "oidcClientSecret", "required when auth is oidc"


class TrackingServerConfig(ConfigModel):
    chart_version: ChartVersion = Field("1.11.0", description="community-charts mlflow chart. Default: 1.11.0.")
    image: ImageRef = Field("ghcr.io/mlflow/mlflow:v3.6.0", description="Pinned MLflow image.")
    replicas: int = Field(2, ge=1, le=20, description="Replicas. Default: 2 (profile: dev 1).")
    cpu: str = Field("500m", description="CPU request and limit. Default: 500m.")
    memory: str = Field("1Gi", description="Memory request and limit. Default: 1Gi.")


class ModelRegistryConfig(ConfigModel):
    enabled: bool = Field(True, description="Deploy the model registry. Default: true.")
    engine: Literal["mlflow", "sagemaker"] = Field("mlflow", description="mlflow or sagemaker. Default: mlflow.")
    namespace: K8sName = Field("mlflow", description="Kubernetes namespace. Default: mlflow.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="RDS Postgres backend store.")
    server: TrackingServerConfig = Field(default_factory=TrackingServerConfig, description="Tracking server.")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Optional ALB Ingress.")
    model_names: list[str] = Field(default_factory=list, description="Model package groups (engine: sagemaker).")

    def problems(self) -> Iterable[Problem]:
        if self.engine == "sagemaker" and not self.model_names:
            yield "modelNames", "at least one model name is required when engine is sagemaker"
