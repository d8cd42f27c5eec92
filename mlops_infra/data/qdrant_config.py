"""Qdrant (vector search) config: pure pydantic, no Pulumi.

Pins read at qdrant/qdrant-helm tag `qdrant-1.19.0` (charts/qdrant: Chart.yaml version 1.19.0, appVersion v1.19.0)
and qdrant/qdrant tag v1.19.0 (src/settings.rs, src/common/metrics.rs, docs/redoc/master/openapi.json).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from ..config.base import ConfigModel, Problem
from ..config.types import ChartVersion, ImageRef, K8sName

QDRANT_CHART = "qdrant"
QDRANT_REPO = "https://qdrant.github.io/qdrant-helm"
QDRANT_CHART_VERSION = "1.19.0"
HTTP_PORT = 6333
GRPC_PORT = 6334
P2P_PORT = 6335
METRICS_PORT = 9464
"""`service.metrics_port` (src/settings.rs at v1.19.0): `/metrics` on its own port, outside API-key auth, which only
Prometheus may reach (NetworkPolicy). The API port keeps every other path behind the keys."""
# The snapshot job runs in an image with Python >= 3.10 and boto3: the MLflow image the platform already pins and
# pulls (burakince/mlflow ships boto3; registry/config.py).
SNAPSHOT_IMAGE = "docker.io/burakince/mlflow:3.14.0"


class QdrantSnapshotsConfig(ConfigModel):
    """Scheduled snapshots of every Qdrant collection to a hardened S3 bucket."""
    enabled: bool = Field(False, description="Snapshot every collection to a hardened S3 bucket on a schedule. "
                                             "Default: false (profiles: prod true).")
    schedule: str = Field("17 */6 * * *", description="CronJob schedule (UTC). Default: every 6 hours at :17.")
    retention_days: int = Field(30, ge=1, le=3650, description="Expire snapshot objects after N days. Default: 30.")
    max_age_hours: int = Field(13, ge=1, le=720, description="Alert (QdrantSnapshotStale) when no snapshot run has "
                                                           "succeeded for this long. Default: 13 (two 6-hourly runs).")
    job_timeout_minutes: int = Field(300, ge=5, le=1440, description="A run taking longer is stopped and fails "
                                     "(`activeDeadlineSeconds`), so a stuck run cannot hold every later one "
                                     "(concurrencyPolicy Forbid). Default: 300.")
    image: ImageRef = Field(SNAPSHOT_IMAGE, description="Image with Python >= 3.10 and boto3 that runs the snapshot "
                                                        f"job. Default: {SNAPSHOT_IMAGE}.")


class QdrantConfig(ConfigModel):
    """Qdrant (`data.qdrant`): replicas, storage, resources and snapshots."""
    enabled: bool = Field(False, description="Run Qdrant. Default: false (profiles: staging and prod true).")
    namespace: K8sName = Field("qdrant", description="Namespace of Qdrant. Default: qdrant.")
    chart_version: ChartVersion = Field(QDRANT_CHART_VERSION,
                                        description=f"qdrant chart version. Default: {QDRANT_CHART_VERSION}.")
    replicas: int = Field(1, ge=1, le=9, description="Qdrant nodes (StatefulSet replicas); collections need a "
                                                     "replication factor > 1 to survive a node. Default: 1.")
    cpu: str = Field("500m", description="CPU request and limit per node. Default: 500m.")
    memory: str = Field("2Gi", description="Memory request and limit per node. Default: 2Gi.")
    storage_size: str = Field("20Gi", pattern=r"^\d+Gi$", description="Volume per node. Default: 20Gi.")
    storage_class: K8sName | None = Field(
        None, description="StorageClass of the volumes (must be encrypted). Default: the cluster's (gp3, KMS).")
    client_namespaces: list[K8sName] = Field(
        default_factory=list, description="Namespaces whose pods may call Qdrant and receive the read-write key. "
        "Default: none (then every team namespace).")
    read_only_namespaces: list[K8sName] = Field(
        default_factory=list, description="Namespaces whose pods may call Qdrant with the read-only key only. "
        "Default: none.")
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node labels Qdrant's pods require (e.g. a memory-optimised node group). "
        "Default: none (system nodes).")
    snapshots: QdrantSnapshotsConfig = Field(default_factory=QdrantSnapshotsConfig, description="Scheduled snapshots.")
    secret_recovery_window_days: int | None = Field(
        None, ge=0, le=30, description="Secrets Manager recovery window of Qdrant's API-key secrets (fixed names, "
        "`<component>/api-key*`): 0 (deleted at once, so a stack destroyed and brought up again can reuse the names) "
        "or 7-30. Default: follows protection: 30 when the component is protected, 0 when not (profiles: dev and "
        "staging 0).")
    latency_p99_seconds: float = Field(0.5, gt=0, description="Alert when the p99 of search/query requests exceeds "
                                                               "this over 10 minutes. Default: 0.5.")
    disk_free_percent: float = Field(15, gt=0, lt=100, description="Alert when a Qdrant volume has less free space "
                                                                   "than this. Default: 15.")

    def problems(self) -> Iterable[Problem]:
        both = sorted(set(self.client_namespaces) & set(self.read_only_namespaces))
        if both:
            yield "readOnlyNamespaces", f"{', '.join(both)} also in clientNamespaces (pick one access level)"
        if self.namespace in {*self.client_namespaces, *self.read_only_namespaces}:
            yield "clientNamespaces", f"{self.namespace!r} is Qdrant's own namespace"
        if self.secret_recovery_window_days is not None and 0 < self.secret_recovery_window_days < 7:
            yield "secretRecoveryWindowDays", "must be 0 or 7-30 (Secrets Manager's RecoveryWindowInDays)"
        if len(self.snapshots.schedule.split()) != 5:
            yield "snapshots.schedule", f"must be a 5-field cron expression (got {self.snapshots.schedule!r})"
