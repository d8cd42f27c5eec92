"""LakeFS's wiring, read from the plan of tests/programs/data_versioning: the blockstore bucket and the role the
server assumes (evaluated with tests/iam_eval.py), the database endpoint and the secret the chart reads (synced by
External Secrets, never a value), the NetworkPolicy (tests/netpol_eval.py), the values contract, rules, outputs."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pulumi_random
import pytest
import yaml

from mlops_infra.data.lakefs import ADMIN_KEY_ID, ADMIN_SECRET, AUTH_KEY, DB_KEY, SECRET_NAME, SELECTOR, SERVER_PORT
from mlops_infra.data.lakefs_rules import LAKEFS_METRICS, rule_groups
from mlops_infra.plan import Inventory
from tests import iam_eval, netpol_eval
from tests.conftest import PROGRAMS, planned
from tests.netpol_eval import Pod
from tests.test_helm_values_contract import contract, leaves, surviving_defaults

PROGRAM = PROGRAMS / "data_versioning"
RELEASE = "kubernetes:helm.sh/v3:Release"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "arn:aws:kms:us-east-1:123456789012:key/35aff05b-2486-9de6-5906-52adcf5584db"


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", PROGRAM)


@pytest.fixture(scope="module")
def gateway() -> Inventory:
    return planned("gateway", PROGRAM)


def values(inv: Inventory) -> dict[str, Any]:
    [release] = inv.of_type(RELEASE)
    result: dict[str, Any] = release.inputs["values"]
    return result


def doc(inv: Inventory, name: str, key: str = "policy") -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(inv.named(name).inputs[key])
    return parsed


def bucket_arn(inv: Inventory) -> str:
    """The blockstore's ARN as the server policy carries it (`arn:aws:s3:::<physical name>`)."""
    found = re.findall(r"arn:aws:s3:::(mlops-prod-lakefs-blockstore-[0-9a-f]+)",
                       inv.named("mlops-prod-lakefs-server-policy").inputs["policy"])
    assert found, "no blockstore ARN in the server policy"
    return f"arn:aws:s3:::{found[0]}"


# --- blockstore and role ---------------------------------------------------------------------------------------------

def test_creating_a_repository_sees_a_missing_dummy_object_as_missing(prod: Inventory) -> None:
    """lakeFS v1.84.0 ensureStorageNamespace GETs `<namespace>/_lakefs/dummy` and creates the repository only on
    NoSuchKey/NotFound. S3 answers 404 for a missing key only when the caller holds s3:ListBucket on the bucket (else
    403), and that check carries no `s3:prefix`: the role must hold ListBucket without the prefix condition."""
    policy, arn = doc(prod, "mlops-prod-lakefs-server-policy"), bucket_arn(prod)
    dummy = f"{arn}/repos/research-data/_lakefs/dummy"
    assert iam_eval.allows([policy], "s3:GetObject", dummy)
    assert iam_eval.allows([policy], "s3:ListBucket", arn, {})  # the implicit check of a GET of a missing key


def test_the_server_role_reads_and_writes_the_blockstore_under_the_repository_prefix_only(prod: Inventory) -> None:
    policy = doc(prod, "mlops-prod-lakefs-server-policy")
    config = json.loads(values(prod)["lakefsConfig"])
    arn = bucket_arn(prod)
    repo_ns = prod.outputs["lakefsRepositoryNamespace"]
    assert repo_ns == f"s3://{arn.removeprefix('arn:aws:s3:::')}/repos"
    obj = f"{arn}/repos/research-data/_lakefs/abc"  # what LakeFS writes under a repository's storage namespace
    # lakeFS's documented object actions, the two multipart list actions included (docs.lakefs.io, S3 setup).
    for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                   "s3:ListMultipartUploadParts"):
        assert iam_eval.allows([policy], action, obj), action
    assert iam_eval.allows([policy], "s3:ListBucketMultipartUploads", arn)
    assert not iam_eval.allows([policy], "s3:ListMultipartUploadParts", f"{arn}/elsewhere/x")
    assert iam_eval.allows([policy], "s3:ListBucket", arn, {"s3:prefix": "repos/research-data/"})
    assert not iam_eval.allows([policy], "s3:PutObject", f"{arn}/elsewhere/x")
    assert not iam_eval.allows([policy], "s3:GetObject", f"{arn}/elsewhere/x")
    # SSE-KMS with the data key, which the config names: the role may generate data keys and decrypt with it.
    assert config["blockstore"] == {"type": "s3", "s3": {
        "region": "us-east-1", "discover_bucket_region": False, "server_side_encryption": "aws:kms",
        "server_side_encryption_kms_key_id": KEY}}
    assert iam_eval.allows([policy], "kms:GenerateDataKey", KEY) and iam_eval.allows([policy], "kms:Decrypt", KEY)


def test_the_pods_service_account_is_the_one_the_role_trusts(prod: Inventory) -> None:
    sa = values(prod)["serviceAccount"]
    assert sa == {"name": "lakefs"}  # `create` unset: the chart uses this existing ServiceAccount
    trust = doc(prod, "mlops-prod-lakefs-server-role", "assumeRolePolicy")
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    principal = {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"}
    ok = {f"{issuer}:sub": "system:serviceaccount:lakefs:lakefs", f"{issuer}:aud": "sts.amazonaws.com"}
    assert iam_eval.trusts(trust, principal, "sts:AssumeRoleWithWebIdentity", ok)
    assert not iam_eval.trusts(trust, principal, "sts:AssumeRoleWithWebIdentity",
                               {**ok, f"{issuer}:sub": "system:serviceaccount:research:workload"})
    sa_record = prod.named("mlops-prod-lakefs-server-sa")
    assert sa_record.inputs["metadata"]["name"] == "lakefs" and sa_record.inputs["metadata"]["namespace"] == "lakefs"


# --- database and secret ---------------------------------------------------------------------------------------------

def test_the_database_is_encrypted_private_backed_up_and_protected_in_prod(prod: Inventory, gateway: Inventory) -> None:
    db = prod.named("mlops-prod-lakefs-db")
    assert db.inputs["storageEncrypted"] is True and db.inputs["kmsKeyId"] == KEY
    assert db.inputs["publiclyAccessible"] is False and db.inputs["backupRetentionPeriod"] >= 7
    assert db.inputs["deletionProtection"] is True and db.options["protect"] is True
    assert db.inputs["manageMasterUserPassword"] is True and "password" not in db.inputs
    assert gateway.named("mlops-gateway-lakefs-db").inputs["deletionProtection"] is False


def test_the_chart_reads_the_connection_string_and_auth_key_from_the_synced_secret(prod: Inventory) -> None:
    v = values(prod)
    assert v["existingSecret"] == SECRET_NAME
    assert v["secretKeys"] == {"authEncryptSecretKey": AUTH_KEY, "databaseConnectionString": DB_KEY}
    es = prod.named("mlops-prod-lakefs-external-secret").inputs
    assert es["spec"]["target"]["name"] == SECRET_NAME and es["metadata"]["namespace"] == "lakefs"
    template = es["spec"]["target"]["template"]["data"]
    address = "mlops-prod-lakefs-dba2d3500.bfb2c662396f.us-east-1.rds.amazonaws.com"
    assert template[DB_KEY] == (f"postgres://{{{{ .username | urlquery }}}}:{{{{ .password | urlquery }}}}@{address}"
                                ":5432/lakefs?sslmode=require")
    assert prod.outputs.get("lakefsEndpoint") and address in template[DB_KEY]
    # The DB credentials come from the RDS-managed secret; the auth key from LakeFS's own secret.
    rds_secret = es["spec"]["dataFrom"][0]["extract"]["key"]
    assert rds_secret.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!mlops-prod-lakefs-db")
    app_secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlops-prod-lakefs/lakefs-AbCdEf"
    key_secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlops-prod-lakefs/lakefs-encrypt-key-AbCdEf"
    # The admin's key pair and the encryption key live in separate secrets: reading the admin's gives no key.
    assert {(d["remoteRef"]["key"], d["secretKey"]) for d in es["spec"]["data"]} == {
        (app_secret, ADMIN_KEY_ID), (app_secret, ADMIN_SECRET), (key_secret, AUTH_KEY)}
    # The store's reader may read exactly these three secrets.
    reader = doc(prod, "mlops-prod-lakefs-secret-reader-policy")
    for arn in (rds_secret, app_secret, key_secret):
        assert iam_eval.allows([reader], "secretsmanager:GetSecretValue", arn)
    assert not iam_eval.allows([reader], "secretsmanager:GetSecretValue",
                               "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf")
    store = prod.named("mlops-prod-lakefs-secret-store").inputs
    assert store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"] == \
        prod.named("mlops-prod-lakefs-secret-reader-sa").inputs["metadata"]["name"]


def test_no_secret_value_in_the_helm_values(prod: Inventory) -> None:
    text = json.dumps(values(prod))
    assert "mock-" not in text  # the mock RandomPassword results
    assert "secrets" not in values(prod) and "password" not in text.lower()


def test_the_setup_job_creates_the_admin_from_the_synced_secret(prod: Inventory) -> None:
    job = prod.named("mlops-prod-lakefs-setup").inputs["spec"]["template"]["spec"]
    [container] = job["containers"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert {ref["name"] for ref in env.values()} == {SECRET_NAME}
    assert env["LAKEFS_DATABASE_POSTGRES_CONNECTION_STRING"]["key"] == DB_KEY
    assert "lakefs setup" in container["command"][-1] and "Setup is already complete" in container["command"][-1]
    assert container["image"] == f"treeverse/lakefs:{values(prod)['image']['community']['tag']}"


# --- exposure ----------------------------------------------------------------------------------------------------------

def test_private_by_default_and_only_clients_and_prometheus_reach_the_server(prod: Inventory) -> None:
    v = values(prod)
    assert v["service"]["type"] == "ClusterIP" and v["ingress"] == {"enabled": False}
    server = Pod("lakefs", dict(SELECTOR))
    policies = netpol_eval.policies_in(prod)
    for ns in ("research", "ranking", "monitoring", "lakefs"):
        assert netpol_eval.allows(policies, Pod(ns), server, SERVER_PORT), ns
    assert not netpol_eval.allows(policies, Pod("kube-system"), server, SERVER_PORT)
    assert not netpol_eval.allows(policies, Pod("research"), server, 9000)


# --- chart contract, observability -----------------------------------------------------------------------------------

def test_every_value_exists_in_the_pinned_chart_and_no_weakening_default_survives(prod: Inventory) -> None:
    [release] = prod.of_type(RELEASE)
    c = contract(str(release.inputs["chart"]), str(release.inputs["version"]))
    assert c is not None
    v = values(prod)
    assert [p for p in leaves(v) if not c.knows(p)] == []
    assert surviving_defaults(v, c) == []
    yaml.safe_load(v["lakefsConfig"])  # the chart renders it as the config file's text


def test_rules_read_only_metrics_lakefs_emits_and_the_service_monitor_scrapes_its_port(prod: Inventory) -> None:
    names: set[str] = set()
    for group in rule_groups("lakefs"):
        for rule in group.rules:
            expr = re.sub(r'"[^"]*"', "", rule["expr"])  # drop label values
            names |= {n for n in re.findall(r"\b([a-z_][a-z0-9_]*)\s*(?:\{|\[)", expr)}
    assert names and names <= LAKEFS_METRICS, names - LAKEFS_METRICS
    sm = prod.named("mlops-prod-lakefs-servicemonitor").inputs["spec"]
    assert sm["selector"]["matchLabels"] == SELECTOR and sm["endpoints"][0]["port"] == "http"
    assert {r["alert"] for r in prod.named("mlops-prod-lakefs-rules").inputs["spec"]["groups"][0]["rules"]} >= {
        "LakeFsDown", "LakeFsMetadataStoreFailures", "LakeFsBlockstoreErrors"}
    assert not any(r.type.endswith("ServiceMonitor") for r in planned("gateway", PROGRAM))


def test_prod_protects_the_blockstore_and_secret_and_drains_one_replica_at_a_time(prod: Inventory) -> None:
    [bucket] = [r for r in prod.of_type(BUCKET) if r.name == "mlops-prod-lakefs-blockstore"]
    assert bucket.options["protect"] is True and bucket.options["retainOnDelete"] is True
    assert prod.named("mlops-prod-lakefs-secret").options["protect"] is True
    assert prod.named("mlops-prod-lakefs-pdb").inputs["spec"]["maxUnavailable"] == 1
    bucket_policy = doc(prod, "mlops-prod-lakefs-blockstore-policy")
    assert any(s["Sid"] == "DenyOutsideVpcEndpoint" for s in bucket_policy["Statement"])


def test_in_the_prod_platform_team_pods_reach_lakefs_through_both_egress_and_ingress_policies() -> None:
    """Prod's exfiltration guards give team namespaces deny-by-default egress: the platform admits LakeFS's port."""
    inv = planned("prod")
    policies = netpol_eval.policies_in(inv)
    server = Pod("lakefs", dict(SELECTOR))
    assert netpol_eval.allows(policies, Pod("research"), server, SERVER_PORT)
    assert not netpol_eval.allows(policies, Pod("research"), server, 9000)
    assert not netpol_eval.allows(policies, Pod("qdrant"), server, SERVER_PORT)


def test_no_call_home_stats_version_check_or_audit_check(prod: Inventory) -> None:
    """lakeFS v1.84.0 calls stats.lakefs.io, checks the latest version and sends its installation ID to
    audit.lakefs.io unless told not to (pkg/config/defaults.go; an empty audit URL skips the request)."""
    config = json.loads(values(prod)["lakefsConfig"])
    assert config["stats"] == {"enabled": False} and config["email_subscription"] == {"enabled": False}
    assert config["security"] == {"check_latest_version": False, "audit_check_url": ""}


def test_no_edit_regenerates_the_auth_encryption_key_and_prod_refuses_its_replacement(prod: Inventory) -> None:
    """A new key makes every credential lakeFS stored undecryptable: whatever input of the RandomPassword changes
    (every one the installed pulumi-random takes), the key stays; prod protects it from `--replace` and delete."""
    params = set(inspect.signature(pulumi_random.RandomPassword._internal_init).parameters)
    inputs = {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), p)
              for p in params - {"self", "__self__", "resource_name", "opts", "__props__"}}
    key = prod.named("mlops-prod-lakefs-auth-encrypt-key")
    assert inputs and set(key.inputs) <= inputs
    assert set(key.options["ignoreChanges"]) == inputs
    assert key.options["protect"] is True
    # the admin's keys are not frozen: they are the first admin's, rotated through lakeFS (docs/data-versioning.md)
    assert not prod.named("mlops-prod-lakefs-admin-secret-key").options["ignoreChanges"]
