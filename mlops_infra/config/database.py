"""Postgres (RDS) config, shared by every concern that keeps a database: the MLflow backend store and the Feast
SQL registry (both built by `blocks.postgres`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from .base import ConfigModel, Problem

SUPPORTED_POSTGRES_MAJOR = ("15", "16", "17")


class DatabaseConfig(ConfigModel):
    """An RDS PostgreSQL instance's settings, shared by every concern that keeps a database."""
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
