"""The Feast SQL registry: an RDS Postgres instance that only the cluster can reach.

Feast connects with a SQLAlchemy URL and cannot fetch an RDS-managed secret itself, so the password is a
pulumi-random secret: it reaches the pods only through a Kubernetes Secret (encrypted in Pulumi state) and
an env reference in `feature_store.yaml`, never plaintext in config, a ConfigMap or an output.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ..blocks.kms import KmsKey
from ..blocks.naming import child, opts
from ..blocks.network_access import PrivatePlacement, cluster_only_security_group
from ..config.model_registry import DatabaseConfig

POSTGRES_PORT = 5432
DB_NAME = "feast"
USERNAME = "feast"


@dataclass(frozen=True)
class SqlRegistryArgs:
    config: DatabaseConfig
    placement: PrivatePlacement
    """Private subnets, admitting only the cluster security group."""
    kms_key: KmsKey
    tags: dict[str, str]
    protect: bool = False
    """Pulumi `protect` + `retain_on_delete` on the instance. Default: false."""


class SqlRegistry(pulumi.ComponentResource):
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    password: pulumi.Output[str]

    def __init__(self, name: str, args: SqlRegistryArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:feature_store_registry:SqlRegistry", name, None, opts_)
        cfg = args.config
        if not args.placement.subnet_ids:
            raise ValueError(f"{name}: the SQL registry needs private subnets, and the network has none")
        subnets = aws.rds.SubnetGroup(child(name, "subnets"), subnet_ids=list(args.placement.subnet_ids), tags=args.tags,
                                      opts=opts(self))
        sg = cluster_only_security_group(name, self, args.placement, port=POSTGRES_PORT, service="Postgres", tags=args.tags)
        password = random.RandomPassword(child(name, "password"), length=40, special=False, opts=opts(self))
        self.password = pulumi.Output.secret(password.result)
        db = aws.rds.Instance(
            name,
            engine="postgres",
            engine_version=cfg.engine_version,
            instance_class=cfg.instance_class,
            allocated_storage=cfg.allocated_storage_gib,
            max_allocated_storage=cfg.max_allocated_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key.arn,
            db_name=DB_NAME,
            username=USERNAME,
            password=self.password,
            port=POSTGRES_PORT,
            multi_az=cfg.multi_az,
            publicly_accessible=False,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[sg.id],
            backup_retention_period=cfg.backup_retention_days,
            deletion_protection=cfg.deletion_protection,
            skip_final_snapshot=not cfg.deletion_protection,
            final_snapshot_identifier=child(name, "final") if cfg.deletion_protection else None,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key.arn,
            tags=args.tags,
            opts=opts(self, stateful=True, protect=args.protect),
        )
        self.address = db.address
        self.port = db.port
        self.db_name, self.username = DB_NAME, USERNAME
        self.register_outputs({"address": self.address})
