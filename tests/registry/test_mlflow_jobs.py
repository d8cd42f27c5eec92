"""The MLflow Jobs and database wiring, checked on planned stacks of tests/programs/model_registry by the relations
that matter at runtime: each team's credentials are the password the users Job sets, the Job runs against a ready
server, the servers start on a migrated schema, the password file outlives a rotation by at most a minute, and
RDS is created only once its Enhanced Monitoring role holds its policy. The same Jobs run against a real MLflow
in tests/integration/test_mlflow.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from mlops_infra.registry.mlflow_migrate import MIGRATE_SCRIPT
from mlops_infra.registry.mlflow_users import CREDENTIALS_SECRET, USERS_SCRIPT
from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

PROGRAM = PROGRAMS / "model_registry"
SECRET = "kubernetes:core/v1:Secret"
JOB = "kubernetes:batch/v1:Job"
PASSWORD = "random:index/randomPassword:RandomPassword"
TEAMS = ["training"]  # tests/programs/model_registry/__main__.py team_namespaces
# RDS-managed master secrets rotate in place (single-user): the old password fails as soon as the rotation ends,
# so the password file's refresh period is the longest outage of new connections after each rotation.
ROTATION_OUTAGE_BUDGET_SECONDS = 60


@pytest.fixture(scope="module")
def basic() -> Inventory:
    return planned("basic", PROGRAM)  # MLflow's basic-auth app


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", PROGRAM)  # oidc: oauth2-proxy in front, no MLflow users


def by_urn(inv: Inventory) -> dict[str, ResourceRecord]:
    return {r.urn: r for r in inv}


def job(inv: Inventory, suffix: str) -> ResourceRecord:
    [found] = [r for r in inv.of_type(JOB) if r.name.endswith(suffix)]
    return found


def pod(record: ResourceRecord) -> dict[str, Any]:
    spec: dict[str, Any] = record.inputs["spec"]["template"]["spec"]
    return spec


def test_each_team_gets_one_credentials_secret_holding_the_password_the_users_job_sets(basic: Inventory) -> None:
    urns = by_urn(basic)
    users_job = job(basic, "-mlflow-users")
    (volume,) = pod(users_job)["volumes"]
    [mounted] = [s for s in basic.of_type(SECRET) if s.inputs["metadata"]["name"] == volume["secret"]["secretName"]
                 and s.inputs["metadata"]["namespace"] == users_job.inputs["metadata"]["namespace"]]
    job_passwords = {u for u in mounted.property_dependencies["stringData"] if urns[u].type == PASSWORD}
    for team in each(TEAMS):
        in_team = [s for s in basic.of_type(SECRET) if s.inputs["metadata"]["namespace"] == team]
        # The registry's own Secret (the program's registry is alone: `<its name>-mlflow-credentials`), never the
        # platform's name.
        [registry] = [r for r in basic if r.type == "mlops:registry:MlflowRegistry"]
        assert [s.inputs["metadata"]["name"] for s in in_team] == [f"{registry.name}-mlflow-credentials"], team
        assert f"{registry.name}-mlflow-credentials" != CREDENTIALS_SECRET
        [password] = [u for u in in_team[0].property_dependencies["stringData"] if urns[u].type == PASSWORD]
        assert password in job_passwords, f"{team}: its Secret holds a password the users Job never sets"
        assert urns[password].inputs["length"] >= 12 and urns[password].inputs["special"] is False
    assert len(job_passwords) == len(TEAMS), "one MLflow user per team, no strays"


def test_the_users_job_calls_the_ready_server_with_the_admin_credentials(basic: Inventory) -> None:
    urns = by_urn(basic)
    users_job = job(basic, "-mlflow-users")
    waits_for = {urns[u].type for u in users_job.options["dependsOn"]}
    assert {"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service"} <= waits_for
    (container,) = pod(users_job)["containers"]
    assert container["command"] == ["python", "-c", USERS_SCRIPT]
    env = {e["name"]: e for e in container["env"]}
    [service] = basic.of_type("kubernetes:core/v1:Service")
    meta = service.inputs["metadata"]
    assert env["MLFLOW_TRACKING_URI"]["value"] == f"http://{meta['name']}.{meta['namespace']}.svc.cluster.local:5000"
    ref = env["MLFLOW_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]
    [auth] = [s for s in basic.of_type(SECRET) if s.inputs["metadata"]["name"] == ref["name"]]
    assert ref["key"] == "admin-password" and env["MLFLOW_ADMIN_USERNAME"]["value"] == "admin"
    # The Job's pod must not join the server's Service (its selector) or PodDisruptionBudget.
    labels = users_job.inputs["spec"]["template"]["metadata"]["labels"]
    assert not set(service.inputs["spec"]["selector"].items()) <= set(labels.items())
    assert users_job.inputs["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"
    assert auth.inputs["metadata"]["namespace"] == users_job.inputs["metadata"]["namespace"]


def test_no_users_without_mlflow_basic_auth(prod: Inventory) -> None:
    assert [r.name for r in prod.of_type(JOB) if r.name.endswith("-users")] == []
    assert [s for s in prod.of_type(SECRET) if s.inputs["metadata"]["name"] == CREDENTIALS_SECRET] == []


@pytest.mark.parametrize("stack", ["basic", "prod", "dev"])
def test_the_servers_start_on_a_schema_the_migration_job_created(stack: str) -> None:
    inv = planned(stack, PROGRAM)
    urns = by_urn(inv)
    migrate = job(inv, "-mlflow-migrate")
    [deployment] = inv.of_type("kubernetes:apps/v1:Deployment")
    assert migrate.urn in deployment.options["dependsOn"], "the Deployment must wait for the migration"
    server_pod, job_pod = pod(deployment), pod(migrate)
    server = {c["name"]: c for c in server_pod["containers"]}["mlflow"]
    args = server["args"]
    (container,) = job_pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["command"] == ["python", "-c", MIGRATE_SCRIPT] and container["image"] == server["image"]
    assert env["MLFLOW_BACKEND_STORE_URI"] == args[args.index("--backend-store-uri") + 1]
    assert env["MLFLOW_MIGRATE_AUTH"] == ("true" if "basic-auth" in args else "false")
    # Same identity and the same credentials sidecar: the Job reaches the database the way the server does.
    assert job_pod["serviceAccountName"] == server_pod["serviceAccountName"]
    assert job_pod["initContainers"] == server_pod["initContainers"]
    assert env["PGPASSFILE"] == {e["name"]: e.get("value") for e in server["env"]}["PGPASSFILE"]
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {env["PGPASSFILE"].rsplit("/", 1)[0]}
    assert urns[migrate.urn].inputs["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"


def test_the_password_file_is_refreshed_within_the_rotation_outage_budget(basic: Inventory) -> None:
    [deployment] = basic.of_type("kubernetes:apps/v1:Deployment")
    [sidecar] = [c for c in pod(deployment)["initContainers"] if c["name"] == "db-credentials"]
    script = sidecar["command"][-1]
    # The sleep after a successful write (the other one is the retry after a failed read).
    after_write = script.split("os.replace(", 1)[1]
    period = int(re.search(r"time\.sleep\((\d+)\)", after_write).group(1))  # type: ignore[union-attr]
    assert period <= ROTATION_OUTAGE_BUDGET_SECONDS, f"new DB connections fail up to {period} s after a rotation"


def test_rds_waits_for_the_enhanced_monitoring_policy_and_trusts_only_this_account(basic: Inventory) -> None:
    urns = by_urn(basic)
    [instance] = basic.of_type("aws:rds/instance:Instance")
    assert instance.inputs["monitoringInterval"] > 0
    [attachment] = [urns[u] for u in instance.options["dependsOn"]
                    if urns[u].type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"]
    assert attachment.inputs["policyArn"].endswith(":policy/service-role/AmazonRDSEnhancedMonitoringRole")
    # The attached role is the one the instance names (physical name = last segment of the ARN).
    assert instance.inputs["monitoringRoleArn"].rsplit("/", 1)[1] == attachment.inputs["role"]
    [role] = [urns[u] for u in attachment.property_dependencies["role"]]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"].isdigit()
