"""The Feast SQL registry: an RDS Postgres instance that only the cluster can reach.

Feast connects with a SQLAlchemy URL and cannot fetch an RDS-managed secret itself, so the password is a
pulumi-random secret: it reaches the pods only through a Kubernetes Secret (encrypted in Pulumi state) and
an env reference in `feature_store.yaml`, never plaintext in config, a ConfigMap or an output.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from ..blocks.kms import KmsKey
from ..blocks.naming import child, child_options, renamed_type
from ..blocks.network_access import PrivatePlacement
from ..blocks.postgres import POSTGRES_PORT, PostgresArgs, postgres
from ..blocks.refs import known_len
from ..config.database import DatabaseConfig

__all__ = ["DB_NAME", "POSTGRES_PORT", "USERNAME", "SqlRegistry", "SqlRegistryArgs"]

DB_NAME = "feast"
USERNAME = "feast"


@dataclass(frozen=True)
class SqlRegistryArgs:
    config: DatabaseConfig
    placement: PrivatePlacement
    """Private subnets, admitting only the cluster security group."""
    kms_key: KmsKey
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the instance. Default: true."""


class SqlRegistry(pulumi.ComponentResource):
    """The same Postgres block as MLflow's database (TLS-only parameter group, Enhanced Monitoring at
    `monitoringIntervalSeconds`, backups, deletion protection, protect); alarms come from the monitoring stack
    by `identifier`. Only the password differs: the caller's, because Feast cannot read Secrets Manager."""

    address: pulumi.Output[str]
    port: pulumi.Output[int]
    password: pulumi.Output[str]
    identifier: pulumi.Output[str]

    def __init__(self, name: str, args: SqlRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:features:SqlRegistry", name, None,
                         renamed_type(opts, "mlops:feature_store_registry:SqlRegistry"))
        if known_len(args.placement.subnet_ids) == 0:
            raise ValueError(f"{name}: the SQL registry needs private subnets, and the network has none")
        password = random.RandomPassword(child(name, "password"), length=40, special=False, opts=child_options(self))
        self.password = pulumi.Output.secret(password.result)
        self.db = postgres(name, self, PostgresArgs(
            config=args.config, placement=args.placement, kms_key=args.kms_key, tags=args.tags, db_name=DB_NAME,
            username=USERNAME, password=self.password, protect=args.protect))
        self.instance = self.db.instance
        self.address = self.instance.address
        self.port = self.instance.port
        self.identifier = self.db.identifier
        self.db_name, self.username = DB_NAME, USERNAME
        self.register_outputs({"address": self.address})
