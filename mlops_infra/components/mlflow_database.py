"""MlflowDatabase: the MLflow backend store, RDS Postgres that only the cluster can reach.

The master password is RDS-managed (`manage_master_user_password`): RDS generates and rotates it in Secrets
Manager, encrypted with our key, so no password ever enters config, Pulumi state or an output. Readers get
the secret's ARN and fetch it at runtime with their own IAM permission.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.kms import KmsKey
from ..blocks.naming import child, opts
from ..blocks.network_access import PrivatePlacement, cluster_only_security_group
from ..config.model_registry import DatabaseConfig

POSTGRES_PORT = 5432
DB_NAME = "mlflow"
MASTER_USERNAME = "mlflow"
# Postgres 15+ on RDS defaults rds.force_ssl to 1; set explicitly so a parameter-group change can't drop TLS.
PARAMETERS = {"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1"}


@dataclass(frozen=True)
class MlflowDatabaseArgs:
    config: DatabaseConfig
    placement: PrivatePlacement
    """Private subnets, admitting only the cluster security group."""
    kms_key: KmsKey
    """Encrypts storage, Performance Insights and the master-user secret."""
    tags: dict[str, str]
    protect: bool = False
    """Pulumi `protect` + `retain_on_delete` on the instance. Default: false."""


class MlflowDatabase(pulumi.ComponentResource):
    address: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    master_secret_arn: pulumi.Output[str]
    instance: aws.rds.Instance

    def __init__(self, name: str, args: MlflowDatabaseArgs, opts_: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:mlflow_database:MlflowDatabase", name, None, opts_)
        cfg = args.config
        self.kms_key = args.kms_key
        self.db_name = DB_NAME
        self.username = MASTER_USERNAME
        subnets = aws.rds.SubnetGroup(child(name, "subnets"), subnet_ids=list(args.placement.subnet_ids), tags=args.tags,
                                      opts=opts(self))
        self.security_group = cluster_only_security_group(name, self, args.placement, port=POSTGRES_PORT,
            service="Postgres", tags=args.tags)
        params = aws.rds.ParameterGroup(
            child(name, "params"), family=f"postgres{cfg.major_version}", description=f"{name}: TLS only, log sessions",
            parameters=[{"name": k, "value": v, "apply_method": "pending-reboot" if k == "rds.force_ssl" else "immediate"}
                        for k, v in PARAMETERS.items()],
            tags=args.tags, opts=opts(self))
        monitoring_role_arn: pulumi.Output[str] | None = None
        if cfg.monitoring_interval_seconds:
            monitoring_role_arn = self._monitoring_role(name, args.tags).arn
        self.instance = aws.rds.Instance(
            name,
            engine="postgres",
            engine_version=cfg.engine_version,
            instance_class=cfg.instance_class,
            db_name=DB_NAME,
            username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key.arn,
            iam_database_authentication_enabled=True,
            allocated_storage=cfg.allocated_storage_gib,
            max_allocated_storage=cfg.max_allocated_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key.arn,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=params.name,
            port=POSTGRES_PORT,
            publicly_accessible=False,
            multi_az=cfg.multi_az,
            backup_retention_period=cfg.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=cfg.deletion_protection,
            # Deletion protection and the final snapshot go together (config: "deletionProtection").
            skip_final_snapshot=not cfg.deletion_protection,
            final_snapshot_identifier=child(name, "final") if cfg.deletion_protection else None,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key.arn,
            performance_insights_retention_period=7,
            monitoring_interval=cfg.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role_arn,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            tags=args.tags,
            opts=opts(self, stateful=True, protect=args.protect),
        )
        self.address = self.instance.address
        self.endpoint = self.instance.endpoint
        self.port = self.instance.port
        self.master_secret_arn = self.instance.master_user_secrets.apply(
            lambda secrets: secrets[0].secret_arn if secrets and secrets[0].secret_arn else "")
        self.register_outputs({"address": self.address, "endpoint": self.endpoint,
                               "masterSecretArn": self.master_secret_arn})

    def _monitoring_role(self, name: str, tags: dict[str, str]) -> aws.iam.Role:
        """Enhanced Monitoring publishes OS metrics through this role (AWS managed policy, RDS-only trust)."""
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        role = aws.iam.Role(
            child(name, "monitoring"), tags=tags, opts=opts(self),
            assume_role_policy=iam.trust_document([iam.statement(
                "RdsEnhancedMonitoring", ["sts:AssumeRole"], [], principals={"Service": "monitoring.rds.amazonaws.com"})]))
        aws.iam.RolePolicyAttachment(
            child(name, "monitoring-policy"), role=role.name, opts=opts(self),
            policy_arn=pulumi.Output.format("arn:{0}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
                                            partition))
        return role

    def secret_read_statements(self) -> list[iam.Statement]:
        """Read the master-user secret (and decrypt it): what the tracking server's credential sidecar needs."""
        return [iam.statement("ReadDatabaseSecret", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                              [self.master_secret_arn])]
