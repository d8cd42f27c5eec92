"""Kubeflow Pipelines' database: RDS MySQL, the one engine every 2.17.0 server that keeps state supports.

Evidence (kubeflow/pipelines at 2.17.0, google/ml-metadata at v1.14.0, the image the manifests pin):
- API server: the driver is viper key `DBDriverName` (env `DBDRIVERNAME`; the manifests' `DB_DRIVER_NAME` is never
  read), default `mysql` (backend/src/apiserver/config/config.json); `mysql` or `pgx` only
  (client_manager/client_manager.go:337-351). Its PostgreSQL DSN ends in a hard-coded `sslmode=disable`
  (backend/src/apiserver/client/sql.go:67), so it cannot reach a TLS-only Postgres. MySQL takes extra DSN
  parameters from `DBConfig.MySQLConfig.ExtraParams` (client_manager.go:397, `GetMapConfig`: a JSON object in
  env `DBCONFIG_MYSQLCONFIG_EXTRAPARAMS`): `tls=skip-verify` (go-sql-driver/mysql: TLS, no CA check; the RDS CA is
  not in the system roots, and KFP registers no custom TLS config).
- Cache server (v1 webhook): `mysql` only (backend/src/cache/client_manager.go:77-81): not installed (see
  kfp_manifests/kustomization.yaml); v2 pipelines cache through the API server (backend/src/v2/cacheutils).
- ML Metadata 1.14.0: MySQL TLS options only through `--metadata_store_server_config_file`
  (MySQLDatabaseConfig.ssl_options, metadata_store_server_main.cc; `mysql_ssl_set` enforces TLS in MariaDB
  Connector/C v3.0.8, libmariadb/mariadb_lib.c:1022-1036). Its client is built with the native-password plugin
  only (ml_metadata/libmysqlclient.BUILD: plugins/auth/my_auth.c, no caching_sha2_pw.c), and asks for it
  (MYSQL_DEFAULT_AUTH mysql_native_password, mysql_metadata_source.cc): the parameter group makes it the
  users' default (`authentication_policy`, MySQL 8.4).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ..blocks.naming import child, child_options
from ..blocks.network_access import cluster_only_security_group
from ..blocks.postgres import PERFORMANCE_INSIGHTS_RETENTION_DAYS, Postgres, PostgresArgs, _monitoring_role, rds_alarms
from ..blocks.refs import known_len

MYSQL_PORT = 3306
PARAMETERS = {
    "require_secure_transport": "1",  # TLS only
    "authentication_policy": "*:mysql_native_password",  # ML Metadata 1.14.0's client (module docstring)
}
STATIC_PARAMETERS = frozenset({"authentication_policy"})
# go-sql-driver/mysql DSN parameters of the API server (JSON object: viper GetStringMapString).
API_EXTRA_PARAMS = '{"tls":"skip-verify"}'


# long: one RDS instance, its parameter group and placement, read next to each other like the Postgres block's
def mysql(name: str, parent: pulumi.Resource, args: PostgresArgs) -> Postgres:
    """The Postgres block's database, on MySQL: the same placement, encryption, managed password, monitoring,
    backups and protection; TLS enforced by `require_secure_transport`. Children named as the block names them."""
    cfg = args.config
    if known_len(args.placement.subnet_ids) == 0:
        raise ValueError(f"{name}: a MySQL database needs private subnets, and the network has none")
    subnets = aws.rds.SubnetGroup(child(name, "subnets"), subnet_ids=args.placement.subnet_ids, tags=args.tags,
                                  opts=child_options(parent))
    security_group = cluster_only_security_group(name, parent, args.placement, port=MYSQL_PORT, service="MySQL",
                                                 tags=args.tags)
    family = "mysql" + ".".join(cfg.engine_version.split(".")[:2])
    params = aws.rds.ParameterGroup(
        child(name, "params"), family=family, description=f"{name}: TLS only, native-password default",
        parameters=[{"name": k, "value": v, "apply_method": "pending-reboot" if k in STATIC_PARAMETERS else "immediate"}
                    for k, v in PARAMETERS.items()],
        tags=args.tags, opts=child_options(parent))
    monitoring = _monitoring_role(name, parent, args.tags) if cfg.monitoring_interval_seconds else None
    managed = args.password is None
    instance = aws.rds.Instance(
        name,
        engine="mysql",
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
        port=MYSQL_PORT,
        publicly_accessible=False,
        multi_az=cfg.multi_az,
        backup_retention_period=cfg.backup_retention_days,
        copy_tags_to_snapshot=True,
        deletion_protection=cfg.deletion_protection,
        skip_final_snapshot=not cfg.deletion_protection,
        final_snapshot_identifier=child(name, "final") if cfg.deletion_protection else None,
        performance_insights_enabled=True,
        performance_insights_kms_key_id=args.kms_key.arn,
        performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
        monitoring_interval=cfg.monitoring_interval_seconds,
        monitoring_role_arn=monitoring[0].arn if monitoring else None,
        enabled_cloudwatch_logs_exports=["error", "slowquery"],
        auto_minor_version_upgrade=True,
        allow_major_version_upgrade=False,
        tags=args.tags,
        opts=child_options(parent, stateful=True, protect=args.protect,
                           depends_on=[monitoring[1]] if monitoring else None),
    )
    if args.alarms is not None:  # the block's alarm set (AWS/RDS metrics are the same for MySQL)
        rds_alarms(child(name, "alarm"), instance.identifier, args.alarms, lambda _: child_options(parent))
    secret_arn = instance.master_user_secrets.apply(
        lambda secrets: secrets[0].secret_arn if secrets and secrets[0].secret_arn else "")
    return Postgres(instance=instance, security_group=security_group, parameter_group=params,
                    master_secret_arn=secret_arn)


def mlmd_config_template(host: str, port: int, database: str) -> str:
    """ML Metadata's MetadataStoreServerConfig (text proto) as an External Secrets template over the RDS secret's
    `username` and `password`: MySQL over TLS (`ssl_options` present: Connector/C enforces TLS; no CA check, as
    the platform's other database clients), schema upgrades on start (the manifests' --enable_database_upgrade).
    The password is escaped for a text-proto string (RDS never generates `"`, `/`, `@` or spaces)."""
    return (
        "connection_config {\n  mysql {\n"
        f'    host: "{host}"\n    port: {port}\n    database: "{database}"\n'
        '    user: "{{ .username }}"\n'
        '    password: "{{ .password | replace "\\\\" "\\\\\\\\" }}"\n'
        "    ssl_options { verify_server_cert: false }\n  }\n}\n"
        "migration_options { enable_upgrade_migration: true }\n")
