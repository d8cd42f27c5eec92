"""Every workspace namespace the platform lists (`cluster.workspaces`) gets a credentials Secret its pods reference
and an MLflow user the users Job creates (issue 27, item 8): the platform makes the user, a Secrets Manager secret
holding its password and a reader role trusting only that namespace's store ServiceAccount; the workspace stack
(tests/programs/team_gpu: `vision`) makes the SecretStore and ExternalSecrets whose Secrets its `envFrom` names."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.platform.workspace_credentials import STORE_SERVICE_ACCOUNT
from mlops_infra.registry.mlflow_users import CREDENTIALS_SECRET as MLFLOW_SECRET
from tests.conftest import PROGRAMS, ROOT, planned
from tests.nonempty import each
from tests.registry.test_mlflow_consumers import users_job_passwords

REF = "organization/mlops-platform/prod"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


@pytest.fixture(scope="module")
def platform() -> Inventory:
    return planned("prod")


@pytest.fixture(scope="module")
def team(platform: Inventory) -> Inventory:
    return plan_program(PROGRAMS / "team_gpu", "prod", stack_refs={REF: platform.outputs})


def workspaces() -> list[str]:
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"]
    return list(load_platform_config(raw["mlops:platform"]).cluster.workspaces)


def by_urn(inv: Inventory) -> dict[str, Any]:
    return {r.urn: r for r in inv}


def test_every_listed_workspace_gets_a_user_the_job_creates_and_a_secret_holding_its_password(
        platform: Inventory) -> None:
    names = workspaces()
    assert names == ["vision"], "prod lists the workspace the team_gpu program builds"
    urns, job = by_urn(platform), users_job_passwords(platform)
    credentials = platform.outputs["teamWorkspace"]["credentials"]
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"]
    window = load_platform_config(raw["mlops:platform"]).security_baseline.secret_recovery_window_days
    for ws in each(names):
        [password] = [u for u in job if urns[u].name.endswith(f"-user-{ws}")]
        [version] = [r for r in platform.of_type("aws:secretsmanager/secretVersion:SecretVersion")
                     if password in r.property_dependencies.get("secretString", [])]
        [secret] = [r for r in platform.of_type("aws:secretsmanager/secret:Secret")
                    if r.urn in version.property_dependencies["secretId"]]
        assert secret.inputs["name"] == credentials[ws]["mlflowSecret"], ws
        assert secret.inputs["kmsKeyId"], "under the platform's data key"
        # Regenerable (the users Job sets the password again): not protected, kept as the integration secrets are.
        assert not secret.options.get("protect") and not secret.options.get("retainOnDelete"), ws
        assert secret.inputs["recoveryWindowInDays"] == window, ws


def role_of(platform: Inventory, arn: str) -> Any:
    """The role a mock ARN names (`role/<resource name>-<suffix>`)."""
    [role] = [r for r in platform.of_type("aws:iam/role:Role") if arn.split("/")[-1].rsplit("-", 1)[0] == r.name]
    return role


def test_each_workspace_reader_trusts_only_its_namespace_store_and_reads_only_its_secrets(platform: Inventory) -> None:
    credentials = platform.outputs["teamWorkspace"]["credentials"]
    assert sorted(credentials) == workspaces()
    urns = by_urn(platform)
    secrets = {r.inputs["name"]: r.urn for r in platform.of_type("aws:secretsmanager/secret:Secret")}
    for ws, entry in each(credentials.items()):
        role = role_of(platform, entry["roleArn"])
        [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        subs = [v for cond in trust["Condition"].values() for k, v in cond.items() if k.endswith(":sub")]
        assert subs == [f"system:serviceaccount:{ws}:{STORE_SERVICE_ACCOUNT}"]
        [policy] = [r for r in platform.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in
                    r.property_dependencies.get("role", [])]
        readable = {u for u in policy.property_dependencies["policy"]
                    if urns[u].type == "aws:secretsmanager/secret:Secret"}
        assert readable == {secrets[entry["mlflowSecret"]], secrets[entry["qdrantSecret"]]}, ws
        statements = {st["Sid"]: st for st in json.loads(policy.inputs["policy"])["Statement"]}
        decrypt = statements["DecryptWorkspaceSecrets"]
        assert decrypt["Action"] == ["kms:Decrypt"], ws
        # Only as Secrets Manager's decryption of exactly the secrets it may read (their SecretARN context).
        assert decrypt["Condition"]["StringEquals"] == {
            "kms:ViaService": f"secretsmanager.{entry['region']}.amazonaws.com",
            "kms:EncryptionContext:SecretARN": statements["ReadWorkspaceSecrets"]["Resource"]}, ws


def test_the_workspace_stack_delivers_them_and_its_pods_reference_them(platform: Inventory, team: Inventory) -> None:
    entry = platform.outputs["teamWorkspace"]["credentials"]["vision"]
    [sa] = [r for r in team.of_type("kubernetes:core/v1:ServiceAccount")
            if r.inputs["metadata"]["name"] == STORE_SERVICE_ACCOUNT]
    assert sa.inputs["metadata"]["namespace"] == "vision"
    assert sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == entry["roleArn"]
    [store] = team.of_type("kubernetes:external-secrets.io/v1:SecretStore")
    assert store.inputs["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"] == STORE_SERVICE_ACCOUNT
    secrets = {r.inputs["spec"]["target"]["name"]: r.inputs["spec"] for r in team.of_type(EXTERNAL_SECRET)
               if r.inputs["metadata"]["namespace"] == "vision"}
    assert set(secrets) == {MLFLOW_SECRET, "qdrant-credentials"}
    for spec in each(secrets.values()):
        assert spec["secretStoreRef"] == {"kind": "SecretStore", "name": store.inputs["metadata"]["name"]}
    assert {d["remoteRef"]["key"] for d in secrets[MLFLOW_SECRET]["data"]} == {entry["mlflowSecret"]}
    assert {d["remoteRef"]["key"] for d in secrets["qdrant-credentials"]["data"]} == {entry["qdrantSecret"]}
    referenced = {e["secretRef"]["name"] for e in team.outputs["podEnvFrom"]}
    assert referenced == set(secrets), "the team's pods read exactly the delivered Secrets"


def test_a_workspace_the_platform_does_not_list_is_refused(platform: Inventory) -> None:
    outputs = platform.outputs
    unlisted = {**outputs, "teamWorkspace": {**outputs["teamWorkspace"], "credentials": {"other": {}}}}
    with pytest.raises(PlanError, match=r"list it in the platform's cluster\.workspaces"):
        plan_program(PROGRAMS / "team_gpu", "prod", stack_refs={REF: unlisted})


def test_a_workspace_name_must_be_free_and_its_delivery_possible() -> None:
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"]["mlops:platform"]
    cluster = raw["cluster"]
    for name in ("research", "admin", "airflow"):
        with pytest.raises(Exception, match=r"cluster\.workspaces\[1\]"):
            load_platform_config({**raw, "cluster": {**cluster, "workspaces": ["vision", name]}})
    no_eso = {**raw, "securityBaseline": {**raw.get("securityBaseline", {}), "externalSecrets": False},
              "data": {**raw.get("data", {}), "qdrant": {"enabled": False}, "lakefs": {"enabled": False}}}
    with pytest.raises(Exception, match="a workspace's credentials reach it only through External Secrets"):
        load_platform_config(no_eso)
    assert load_platform_config(raw).cluster.workspaces == ["vision"]


def test_a_workspace_beside_a_feature_store_that_needs_feast_logins_is_refused() -> None:
    """Workspaces get no Feast logins yet (review finding): a SQL registry or Redis RBAC users would leave the exported
    feature_store.yaml's ${FEAST_REGISTRY_*}/${FEAST_REDIS_*} unset in the workspace, so the config refuses it."""
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"]["mlops:platform"]
    fs = raw.get("featureStore", {})
    redis = {k: v for k, v in fs.get("online", {}).items() if k != "featureViews"} | {"type": "redis"}
    for change in ({"registry": "sql"}, {"online": redis}):
        with pytest.raises(Exception, match="workspaces get MLflow and Qdrant credentials but no Feast logins yet"):
            load_platform_config({**raw, "featureStore": {**fs, **change}})
    token = {**fs, "online": {**redis, "redisAuth": "token"}}
    assert load_platform_config({**raw, "featureStore": token}).cluster.workspaces == ["vision"]
