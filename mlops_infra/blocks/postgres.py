"""One Postgres building block for every RDS database of the platform (MLflow's backend store, the Feast SQL
registry): private placement admitting only the cluster, a parameter group that enforces TLS, an RDS-managed
master password (or the caller's, when its client cannot read Secrets Manager), Enhanced Monitoring at the
configured interval, encrypted storage and Performance Insights, backups, deletion protection with a final
snapshot, and Pulumi protect.

The engine is a parameter (`Engine`: RDS engine, port, parameter-group family and settings, log exports): Postgres
by default, MySQL for Kubeflow Pipelines (`pipelines/kfp_database.MYSQL`), with the rest written once.

Not a ComponentResource: the children are created under the caller's component with the caller's name, so the
URNs of released databases (`MlflowDatabase`, `SqlRegistry`) never change.

The CloudWatch alarm set of an instance (CPU, free storage, connections) is the block's too (`RDS_ALARMS`,
`rds_alarms`): given `PostgresArgs.alarms`, every instance gets it as `<name>-alarm-cpu` and so on. MLflow's and the
Feast registry's databases keep theirs where they were released (their observability components' `CloudWatchAlarms`,
which call `rds_alarms` too), so those URNs do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..config.database import DatabaseConfig
from . import iam
from .kms import KeyLike
from .naming import child, child_options
from .network_access import PrivatePlacement, cluster_only_security_group
from .refs import known_len

POSTGRES_PORT = 5432
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
# Postgres 15+ on RDS defaults rds.force_ssl to 1; set explicitly so a parameter-group change can't drop TLS.
PARAMETERS = {"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1"}
STATIC_PARAMETERS = frozenset({"rds.force_ssl"})
"""Applied at the next reboot (`pending-reboot`); the others apply immediately."""


@dataclass(frozen=True)
class Engine:
    """What differs between the RDS engines the block builds: everything else (placement, encryption, managed
    password, backups, protection, monitoring, Performance Insights, alarms) is the block's, once."""

    engine: str
    """RDS `engine`."""
    label: str
    """Its name in messages and security-group descriptions."""
    port: int
    family: Callable[[DatabaseConfig], str]
    """The parameter-group family of the configured `engine_version`."""
    parameters: Mapping[str, str]
    """The parameter group's settings, TLS enforcement first."""
    static_parameters: frozenset[str]
    """Those applied at the next reboot (`pending-reboot`); the others apply immediately."""
    description: str
    """The parameter group's description after `<name>: `."""
    log_exports: tuple[str, ...]
    """CloudWatch Logs exports."""


POSTGRES = Engine(engine="postgres", label="Postgres", port=POSTGRES_PORT,
                  family=lambda cfg: f"postgres{cfg.major_version}", parameters=PARAMETERS,
                  static_parameters=STATIC_PARAMETERS, description="TLS only, log sessions",
                  log_exports=("postgresql", "upgrade"))


GIB = 1024**3


@dataclass(frozen=True)
class DatabaseAlarms:
    """Where an instance's alarms notify and their thresholds (monitoring.thresholds `rds*`)."""

    topic_arn: pulumi.Input[str]
    cpu_percent: float = 80.0
    free_storage_gib: int = 10
    max_connections: int = 400
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RdsAlarm:
    suffix: str
    metric: str
    statistic: str
    comparison: str
    periods: int


RDS_ALARMS = (
    RdsAlarm("cpu", "CPUUtilization", "Average", "GreaterThanThreshold", 3),
    RdsAlarm("free-storage", "FreeStorageSpace", "Minimum", "LessThanThreshold", 1),
    RdsAlarm("connections", "DatabaseConnections", "Maximum", "GreaterThanThreshold", 2),
)
"""The alarm set every Postgres instance gets (AWS/RDS metrics, 5-minute periods)."""


def _threshold(alarm: RdsAlarm, alarms: DatabaseAlarms) -> tuple[float, str]:
    if alarm.suffix == "cpu":
        return alarms.cpu_percent, f"RDS CPU above {alarms.cpu_percent:g}% for 15 minutes"
    if alarm.suffix == "free-storage":
        return alarms.free_storage_gib * GIB, f"RDS free storage under {alarms.free_storage_gib} GiB"
    return alarms.max_connections, f"RDS connections above {alarms.max_connections}"


def rds_alarms(prefix: str, identifier: pulumi.Input[str], alarms: DatabaseAlarms,
               opts: Callable[[str], pulumi.ResourceOptions]) -> list[aws.cloudwatch.MetricAlarm]:
    """`RDS_ALARMS` on the instance `identifier`, named `<prefix>-<suffix>`, with `opts(suffix)`; each notifies the
    topic when it fires and when it clears."""
    created = []
    for alarm in RDS_ALARMS:
        threshold, description = _threshold(alarm, alarms)
        created.append(aws.cloudwatch.MetricAlarm(
            child(prefix, alarm.suffix), alarm_description=description, namespace="AWS/RDS",
            metric_name=alarm.metric, dimensions={"DBInstanceIdentifier": identifier}, statistic=alarm.statistic,
            period=300, evaluation_periods=alarm.periods, datapoints_to_alarm=alarm.periods,
            comparison_operator=alarm.comparison, threshold=threshold, treat_missing_data="missing",
            alarm_actions=[alarms.topic_arn], ok_actions=[alarms.topic_arn], tags=alarms.tags,
            opts=opts(alarm.suffix)))
    return created


@dataclass(frozen=True)
class PostgresArgs:
    config: DatabaseConfig
    placement: PrivatePlacement
    """Private subnets, admitting only the cluster security group."""
    kms_key: KeyLike
    """Encrypts storage, Performance Insights and (managed password) the master-user secret."""
    tags: dict[str, str]
    db_name: str
    username: str
    password: pulumi.Input[str] | None = None
    """The master password the caller's client needs (a Pulumi secret). Default: none, RDS manages it in Secrets
    Manager (generated, rotated, encrypted with `kms_key`) and it never enters Pulumi state."""
    iam_database_authentication: bool = False
    """Allow IAM database authentication. Default: false."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the instance. Default: true."""
    alarms: DatabaseAlarms | None = None
    """The instance's CloudWatch alarms (`RDS_ALARMS`), as `<name>-alarm-*`. Default: none (no alert topic)."""
    engine: Engine = POSTGRES
    """The RDS engine (Kubeflow Pipelines: `pipelines/kfp_database.MYSQL`). Default: Postgres."""


@dataclass(frozen=True)
class Postgres:
    """What the block created; `master_secret_arn` is empty unless the password is RDS-managed."""

    instance: aws.rds.Instance
    security_group: aws.ec2.SecurityGroup
    parameter_group: aws.rds.ParameterGroup
    master_secret_arn: pulumi.Output[str]

    @property
    def identifier(self) -> pulumi.Output[str]:
        """The DB instance identifier: the `DBInstanceIdentifier` dimension of its CloudWatch metrics."""
        return self.instance.identifier


# long: one RDS instance, its parameter group and placement; every argument is a reviewed setting (TLS, backups,
#   monitoring, protection) that reads best next to the others
def postgres(name: str, parent: pulumi.Resource, args: PostgresArgs) -> Postgres:
    """Create the database as `name` and its companions as `<name>-subnets`, `-sg`, `-from-cluster`, `-params`,
    `-monitoring` and `-monitoring-policy`, all children of `parent`, on `args.engine`."""
    cfg, engine = args.config, args.engine
    if known_len(args.placement.subnet_ids) == 0:
        raise ValueError(f"{name}: a {engine.label} database needs private subnets, and the network has none")
    subnets = aws.rds.SubnetGroup(child(name, "subnets"), subnet_ids=args.placement.subnet_ids, tags=args.tags,
                                  opts=child_options(parent))
    security_group = cluster_only_security_group(name, parent, args.placement, port=engine.port, service=engine.label,
                                                 tags=args.tags)
    params = aws.rds.ParameterGroup(
        child(name, "params"), family=engine.family(cfg), description=f"{name}: {engine.description}",
        parameters=[{"name": k, "value": v,
                     "apply_method": "pending-reboot" if k in engine.static_parameters else "immediate"}
                    for k, v in engine.parameters.items()],
        tags=args.tags, opts=child_options(parent))
    monitoring = _monitoring_role(name, parent, args.tags) if cfg.monitoring_interval_seconds else None
    managed = args.password is None
    instance = aws.rds.Instance(
        name,
        engine=engine.engine,
        engine_version=cfg.engine_version,
        instance_class=cfg.instance_class,
        db_name=args.db_name,
        username=args.username,
        manage_master_user_password=True if managed else None,
        master_user_secret_kms_key_id=args.kms_key.arn if managed else None,
        password=None if managed else pulumi.Output.secret(args.password),
        iam_database_authentication_enabled=args.iam_database_authentication,
        allocated_storage=cfg.allocated_storage_gib,
        max_allocated_storage=cfg.max_allocated_storage_gib,
        storage_type="gp3",
        storage_encrypted=True,
        kms_key_id=args.kms_key.arn,
        db_subnet_group_name=subnets.name,
        vpc_security_group_ids=[security_group.id],
        parameter_group_name=params.name,
        port=engine.port,
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
        performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
        monitoring_interval=cfg.monitoring_interval_seconds,
        monitoring_role_arn=monitoring[0].arn if monitoring else None,
        enabled_cloudwatch_logs_exports=list(engine.log_exports),
        auto_minor_version_upgrade=True,
        allow_major_version_upgrade=False,
        tags=args.tags,
        # CreateDBInstance checks the role's permissions: before the attachment exists it fails with "IAM role ARN
        # value is invalid or does not include the required permissions for: ENHANCED_MONITORING".
        opts=child_options(parent, stateful=True, protect=args.protect,
                           depends_on=[monitoring[1]] if monitoring else None),
    )
    if args.alarms is not None:
        rds_alarms(child(name, "alarm"), instance.identifier, args.alarms, lambda _: child_options(parent))
    secret_arn = instance.master_user_secrets.apply(
        lambda secrets: secrets[0].secret_arn if secrets and secrets[0].secret_arn else "")
    return Postgres(instance=instance, security_group=security_group, parameter_group=params,
                    master_secret_arn=secret_arn)


def _monitoring_role(name: str, parent: pulumi.Resource,
                     tags: dict[str, str]) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
    """Enhanced Monitoring publishes OS metrics through this role (AWS managed policy, RDS-only trust restricted
    to this account: `aws:SourceAccount` guards against the confused deputy)."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    partition = aws.get_partition_output(opts=invoke).partition
    account = aws.get_caller_identity_output(opts=invoke).account_id
    role = aws.iam.Role(
        child(name, "monitoring"), tags=tags, opts=child_options(parent),
        assume_role_policy=iam.trust_document([iam.statement(
            "RdsEnhancedMonitoring", ["sts:AssumeRole"], [], principals={"Service": "monitoring.rds.amazonaws.com"},
            conditions={"StringEquals": {"aws:SourceAccount": account}})]))
    attachment = aws.iam.RolePolicyAttachment(
        child(name, "monitoring-policy"), role=role.name, opts=child_options(parent),
        policy_arn=pulumi.Output.format("arn:{0}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
                                        partition))
    return role, attachment
