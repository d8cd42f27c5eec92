"""The Postgres block builds every RDS instance, whatever its engine (D1: KFP's MySQL repeated the block's settings).

Read from the plan of every orchestration engine: the KFP MySQL instance and the engines' Postgres instances share
each setting the block owns, and differ only where their `Engine` says (engine, port, log exports, parameter
group). Item 4 of #28 is pinned here too: the MySQL parameter group's settings."""

from __future__ import annotations

from mlops_infra.blocks.postgres import POSTGRES
from mlops_infra.pipelines.kfp_database import MYSQL
from mlops_infra.plan import Inventory
from tests.integration.plans import plan
from tests.nonempty import each

INSTANCE, PARAMS = "aws:rds/instance:Instance", "aws:rds/parameterGroup:ParameterGroup"
ENGINE_KEYS = {"engine", "engineVersion", "port", "enabledCloudwatchLogsExports", "parameterGroupName"}
"""What an `Engine` decides; every other input is the block's or the caller's."""
PER_INSTANCE = {"dbName", "username", "dbSubnetGroupName", "vpcSecurityGroupIds", "monitoringRoleArn", "kmsKeyId",
                "masterUserSecretKmsKeyId", "performanceInsightsKmsKeyId", "finalSnapshotIdentifier", "tags",
                "instanceClass", "allocatedStorage", "maxAllocatedStorage", "multiAz", "backupRetentionPeriod",
                "deletionProtection", "skipFinalSnapshot"}
"""Names, placement, keys and sizing: the caller's, so not compared across instances."""


def _by_engine(inv: Inventory) -> dict[str, list[dict[str, object]]]:
    found: dict[str, list[dict[str, object]]] = {}
    for r in inv.of_type(INSTANCE):
        found.setdefault(str(r.inputs["engine"]), []).append(r.inputs)
    return found


def test_mysql_and_postgres_instances_share_the_blocks_settings() -> None:
    engines = _by_engine(plan("variant-pipelines"))
    assert set(engines) == {"mysql", "postgres"}, "the pipelines variant plans both engines"
    shared = [{k: v for k, v in inputs.items() if k not in ENGINE_KEYS | PER_INSTANCE}
              for group in engines.values() for inputs in group]
    assert shared[0]["storageEncrypted"] is True and shared[0]["performanceInsightsEnabled"] is True
    assert all(s == shared[0] for s in each(shared)), "one block: the same encryption, password, monitoring, protection"


def test_each_instance_takes_its_engines_port_logs_and_parameter_family() -> None:
    inv = plan("variant-pipelines")
    families = {p.urn: p.inputs for p in inv.of_type(PARAMS)}
    instances = inv.of_type(INSTANCE)
    assert instances
    for r in instances:
        engine = {"mysql": MYSQL, "postgres": POSTGRES}[str(r.inputs["engine"])]
        assert r.inputs["port"] == engine.port, r.name
        assert r.inputs["enabledCloudwatchLogsExports"] == list(engine.log_exports), r.name
        (group,) = r.property_dependencies["parameterGroupName"]
        params = families[group]
        assert str(params["family"]).startswith(engine.engine), r.name
        assert {p["name"]: p["value"] for p in params["parameters"]} == dict(engine.parameters), r.name  # type: ignore[attr-defined]


def test_kfp_mysql_parameter_group_enforces_tls_and_the_native_password_default() -> None:
    """require_secure_transport (TLS only) and `authentication_policy` `*:mysql_native_password` (ML Metadata 1.14.0's
    client speaks only that plugin), and no `mysql_native_password` parameter.

    Evidence (Dec 2026): the MySQL 8.4 manual disables the server plugin by default (`mysql_native_password=ON`
    enables it). AWS documents 8.4 for Aurora MySQL only: the plugin "enabled by default but the setting is not
    modifiable", `authentication_policy` defaulting to `*:caching_sha2_password`, and a custom group with
    `*:mysql_native_password` creating the master user with that plugin (AuroraMySQL.MySQL84,
    AuroraMySQL.Upgrade-v3-v84-security). No RDS for MySQL page found says the same or lists a
    `mysql_native_password` parameter, so the plan sets none (an unknown name fails CreateDBParameterGroup): a
    first deploy must confirm `SELECT plugin FROM mysql.user` on the instance."""
    inv = plan("variant-pipelines")
    (params,) = [p for p in inv.of_type(PARAMS) if str(p.inputs["family"]).startswith("mysql")]
    assert params.inputs["family"] == "mysql8.4"
    by_name = {p["name"]: p for p in params.inputs["parameters"]}
    assert by_name["require_secure_transport"]["value"] == "1"
    assert "mysql_native_password" not in by_name
    assert by_name["authentication_policy"] == {"name": "authentication_policy", "value": "*:mysql_native_password",
                                                "applyMethod": "pending-reboot"}


def test_each_exported_slow_query_log_is_written_to_a_file() -> None:
    """RDS exports MySQL's slow query log only with `slow_query_log = 1` and `log_output = FILE` in a custom
    parameter group (RDS User Guide, "Publishing MySQL logs to Amazon CloudWatch Logs")."""
    inv = plan("variant-pipelines")
    families = {p.urn: p.inputs for p in inv.of_type(PARAMS)}
    exporting = [r for r in inv.of_type(INSTANCE) if "slowquery" in r.inputs["enabledCloudwatchLogsExports"]]
    assert exporting, "the KFP MySQL instance exports its slow query log"
    for r in exporting:
        (group,) = r.property_dependencies["parameterGroupName"]
        values = {p["name"]: p["value"] for p in families[group]["parameters"]}
        assert values.get("slow_query_log") == "1" and values.get("log_output") == "FILE", r.name
