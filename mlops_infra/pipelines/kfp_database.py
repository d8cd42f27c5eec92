"""Kubeflow Pipelines' database: RDS MySQL, the one engine every 2.17.0 server that keeps state supports.

Evidence (kubeflow/pipelines at 2.17.0, google/ml-metadata at v1.14.0, the image the manifests pin):
- API server: the driver is viper key `DBDriverName` (env `DBDRIVERNAME`; the manifests' `DB_DRIVER_NAME` is never
  read), default `mysql` (backend/src/apiserver/config/config.json); `mysql` or `pgx` only
  (client_manager/client_manager.go:337-351). Its PostgreSQL DSN ends in a hard-coded `sslmode=disable`
  (backend/src/apiserver/client/sql.go:67), so it cannot reach a TLS-only Postgres. MySQL takes extra DSN
  parameters from `DBConfig.MySQLConfig.ExtraParams` (client_manager.go:397, `GetMapConfig`: a JSON object in
  env `DBCONFIG_MYSQLCONFIG_EXTRAPARAMS`): `tls=skip-verify` (go-sql-driver/mysql: TLS, no CA check; the RDS CA is
  not in the system roots, and KFP registers no custom TLS config).
- Verified TLS is possible in that source but not built: go-sql-driver/mysql v1.9.3 (go.mod) maps `tls=true` to a
  `tls.Config{}` on the system roots with `ServerName` = the DSN host (dsn.go normalize, lines 197-221), and Go's
  system roots on Linux add SSL_CERT_DIR's certificates to the image's bundle (crypto/x509 root_unix.go). It needs
  `mysqlHost` = the RDS endpoint (the `mysql` ExternalName alias is not in the certificate) and the RDS CA bundle
  mounted in the pod (and ML Metadata's `ssl_options { ca, verify_server_cert: true }`): nothing here delivers that
  bundle, and it cannot be fetched offline, so the platform's database clients all skip verification.
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

from dataclasses import replace

import pulumi

from ..blocks.postgres import Engine, Postgres, PostgresArgs, postgres

MYSQL_PORT = 3306
PARAMETERS = {
    "require_secure_transport": "1",  # TLS only
    "authentication_policy": "*:mysql_native_password",  # ML Metadata 1.14.0's client (module docstring)
    # The `slowquery` export needs both (RDS User Guide, "Publishing MySQL logs to Amazon CloudWatch Logs").
    "slow_query_log": "1",
    "log_output": "FILE",
}
STATIC_PARAMETERS = frozenset({"authentication_policy"})
# go-sql-driver/mysql DSN parameters of the API server (JSON object: viper GetStringMapString).
API_EXTRA_PARAMS = '{"tls":"skip-verify"}'
MYSQL = Engine(engine="mysql", label="MySQL", port=MYSQL_PORT,
               family=lambda cfg: "mysql" + ".".join(cfg.engine_version.split(".")[:2]), parameters=PARAMETERS,
               static_parameters=STATIC_PARAMETERS, description="TLS only, native-password default",
               log_exports=("error", "slowquery"))
"""RDS MySQL for the Postgres block: TLS enforced by `require_secure_transport`."""


def mysql(name: str, parent: pulumi.Resource, args: PostgresArgs) -> Postgres:
    """The Postgres block's database on MySQL (`MYSQL`): the same placement, encryption, managed password,
    monitoring, backups, protection and alarms, children named as the block names them."""
    return postgres(name, parent, replace(args, engine=MYSQL))


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
