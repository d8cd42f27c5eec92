"""FeatureStore planned on the mock engine: stores, encryption, protection, least privilege, feature_store.yaml."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlops_infra.features import feast_config
from mlops_infra.plan import SECRET, Inventory, PlanError, ResourceRecord
from tests import iam_eval
from tests.conftest import planned
from tests.features.conftest import KEY_ARN, PROGRAM
from tests.nonempty import each

WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:CronJob")


def one(inv: Inventory, typ: str, name: str) -> ResourceRecord:
    [record] = [r for r in inv.of_type(typ) if r.name == name]
    return record


def types(inv: Inventory) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in inv:
        out[r.type] = out.get(r.type, 0) + 1
    return out


def policy(inv: Inventory, name: str) -> dict[str, Any]:
    """The document of a policy, or of the managed policy a grant (`<store>-<verb>-<role>`) attaches."""
    record = inv.named(name)
    if record.type == iam_eval.ATTACHMENT:
        [record] = [r for r in inv.of_type(iam_eval.MANAGED_POLICY) if r.id == record.inputs["policyArn"]]
    doc: dict[str, Any] = json.loads(record.inputs["policy"])
    return doc


def by_sid(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in doc["Statement"]}


def pod_spec(record: ResourceRecord) -> dict[str, Any]:
    spec = record.inputs["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    result: dict[str, Any] = template["spec"]
    return result


def all_policies(inv: Inventory) -> list[dict[str, Any]]:
    return [json.loads(r.inputs["policy"]) for r in inv
            if r.type in (iam_eval.ROLE_POLICY, iam_eval.MANAGED_POLICY)]


# --- Stores -------------------------------------------------------------------------------------------------

def test_dev_plan_has_dynamodb_parquet_s3_registry_server_and_cronjob(dev: Inventory) -> None:
    t = types(dev)
    assert t["aws:dynamodb/table:Table"] == 2
    for kind in ("kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", "kubernetes:policy/v1:PodDisruptionBudget",
                 "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:batch/v1:CronJob",
                 "kubernetes:core/v1:ConfigMap"):
        assert t[kind] == 1, kind
    assert t["kubernetes:core/v1:ServiceAccount"] == 2  # feature server and materializer: separate roles
    for absent in ("aws:elasticache/replicationGroup:ReplicationGroup", "aws:rds/instance:Instance",
                   "aws:athena/workgroup:Workgroup", "kubernetes:core/v1:Secret"):
        assert absent not in t


def test_dynamodb_tables_are_on_demand_pitr_kms_and_named_as_feast_reads_them(dev: Inventory,
                                                                              prod_dynamo: Inventory) -> None:
    table = dev.named("fs-online-driver-hourly-stats")
    assert table.inputs["name"] == "fs.mlops.driver_hourly_stats"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["hashKey"] == "entity_id"
    assert table.inputs["attributes"] == [{"name": "entity_id", "type": "S"}]
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY_ARN}
    assert table.inputs["deletionProtectionEnabled"] is False and table.options["protect"] is False
    prod_table = prod_dynamo.named("fs-online-driver-hourly-stats")
    assert prod_table.inputs["deletionProtectionEnabled"] is True
    assert prod_table.options["protect"] is True and prod_table.options["retainOnDelete"] is True


def test_offline_bucket_is_hardened_with_staging_lifecycle(dev: Inventory) -> None:
    sse = dev.named("fs-offline-encryption").inputs["rules"][0]
    assert sse == {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN},
                   "bucketKeyEnabled": True}
    rules = {r["id"]: r for r in dev.named("fs-offline-lifecycle").inputs["rules"]}
    assert rules["expire-staging"] == {"id": "expire-staging", "status": "Enabled", "filter": {"prefix": "staging/"},
                                       "expiration": {"days": 7}}
    assert dev.named("fs-offline-public-access-block").inputs["restrictPublicBuckets"] is True
    deny = json.loads(dev.named("fs-offline-policy").inputs["policy"])["Statement"][0]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny["Effect"] == "Deny"


def test_redis_is_multi_az_encrypted_rbac_secret_and_private(prod: Inventory) -> None:
    redis = one(prod, "aws:elasticache/replicationGroup:ReplicationGroup", "fs-online")
    i = redis.inputs
    assert (i["numCacheClusters"], i["automaticFailoverEnabled"], i["multiAzEnabled"]) == (2, True, True)
    assert i["atRestEncryptionEnabled"] is True and i["kmsKeyId"] == KEY_ARN
    assert i["transitEncryptionEnabled"] is True and i["transitEncryptionMode"] == "required"
    assert i["snapshotRetentionLimit"] == 7
    # RBAC (`redisAuth` default): no AUTH token, one user group whose owner user holds the generated password.
    assert "authToken" not in i and i["authTokenUpdateStrategy"] == "DELETE"
    [group] = prod.of_type("aws:elasticache/userGroup:UserGroup")
    assert i["userGroupIds"] == [group.inputs["userGroupId"]]
    users = {u.inputs["userId"]: u.inputs for u in prod.of_type("aws:elasticache/user:User")}
    assert sorted(group.inputs["userIds"]) == sorted(users)
    owner = {u["userName"]: u for u in users.values()}["feast"]
    assert owner["passwords"] == SECRET and owner["accessString"] == "on ~* +@all"
    assert {u["userName"]: u["accessString"] for u in users.values()}["default"].startswith("off ")
    assert redis.options["protect"] is True
    assert prod.named("fs-online-subnets").inputs["subnetIds"] == ["subnet-0aaa1111", "subnet-0bbb2222"]
    rule = prod.named("fs-online-from-cluster").inputs
    assert (rule["referencedSecurityGroupId"], rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == \
        ("sg-0c1a5c1a5c1a5c1a5", 6379, 6379, "tcp")
    assert "cidrIpv4" not in rule
    sg = prod.named("fs-online-sg")
    assert "ingress" not in sg.inputs and i["securityGroupIds"] == [sg.id]


def test_sql_registry_database_is_private_encrypted_protected(prod: Inventory) -> None:
    db = one(prod, "aws:rds/instance:Instance", "fs-registry")
    i = db.inputs
    assert i["publiclyAccessible"] is False and i["storageEncrypted"] is True and i["kmsKeyId"] == KEY_ARN
    assert i["deletionProtection"] is True and i["multiAz"] is True and i["password"] == SECRET
    assert db.options["protect"] is True
    rule = prod.named("fs-registry-from-cluster").inputs
    assert (rule["referencedSecurityGroupId"], rule["fromPort"]) == ("sg-0c1a5c1a5c1a5c1a5", 5432)


def test_athena_workgroup_results_are_kms_encrypted_and_enforced(prod: Inventory) -> None:
    conf = prod.named("fs-athena").inputs["configuration"]
    assert conf["enforceWorkgroupConfiguration"] is True
    assert conf["resultConfiguration"]["encryptionConfiguration"] == {"encryptionOption": "SSE_KMS", "kmsKeyArn": KEY_ARN}
    bucket = prod.outputs["offlineBucketName"]
    assert conf["resultConfiguration"]["outputLocation"] == f"s3://{bucket}/staging/athena-results/"
    assert prod.named("fs-glue").inputs["name"] == "fs_offline"


def test_sagemaker_engine_provisions_encrypted_feature_groups_instead_of_feast(sagemaker: Inventory) -> None:
    t = types(sagemaker)
    assert not any(k.startswith("kubernetes:") and "providers" not in k for k in t)
    assert "aws:dynamodb/table:Table" not in t
    group = sagemaker.named("fs-groups-drivers").inputs
    assert group["featureGroupName"] == "fs-groups-drivers"
    assert group["onlineStoreConfig"] == {"enableOnlineStore": True, "securityConfig": {"kmsKeyId": KEY_ARN}}
    s3 = group["offlineStoreConfig"]["s3StorageConfig"]
    assert s3 == {"s3Uri": f"s3://{sagemaker.outputs['offlineBucketName']}/sagemaker", "kmsKeyId": KEY_ARN}
    assert {d["featureName"]: d["featureType"] for d in group["featureDefinitions"]} == {
        "driver_id": "String", "trips_today": "Integral", "rating": "Fractional", "event_time": "String"}
    group_arn = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/fs-groups-drivers"
    read, write = [policy(sagemaker, n) for n in ("fs-read-trainer", "fs-write-ingest")]
    assert by_sid(read)["FeatureGroupRecords"]["Resource"] == [group_arn]
    # IAM authorises the runtime API under `sagemaker:` (issue 14 #15): evaluate, do not just compare strings.
    for action in ("sagemaker:GetRecord", "sagemaker:BatchGetRecord"):
        assert iam_eval.allows([read], action, group_arn) and iam_eval.allows([write], action, group_arn)
    for action in ("sagemaker:PutRecord", "sagemaker:DeleteRecord"):
        assert not iam_eval.allows([read], action, group_arn) and iam_eval.allows([write], action, group_arn)


# --- Least privilege ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod", "sagemaker"])
def test_no_wildcard_actions_and_unique_sids(stack: str, dev: Inventory, prod: Inventory,
                                             sagemaker: Inventory) -> None:
    inv = {"dev": dev, "prod": prod, "sagemaker": sagemaker}[stack]
    docs = all_policies(inv)
    assert docs
    for doc in docs:
        sids = [s["Sid"] for s in doc["Statement"]]
        assert len(sids) == len(set(sids))
        for s in doc["Statement"]:
            assert s["Effect"] == "Allow"
            assert all(a != "*" and not a.endswith(":*") for a in each(s["Action"])), s
            assert all(r != "*" for r in each(s["Resource"])), s


def test_feature_server_reads_only_its_registry_object_and_tables(dev: Inventory) -> None:
    stmts = by_sid(policy(dev, "fs-server-identity-policy"))
    bucket = dev.outputs["offlineBucketName"]
    assert set(stmts) == {"RegistryBucket", "RegistryRead", "OnlineTablesRead", "DataKey"}
    assert stmts["RegistryRead"]["Resource"] == [f"arn:aws:s3:::{bucket}/registry/*"]
    assert stmts["RegistryBucket"]["Resource"] == [f"arn:aws:s3:::{bucket}"]
    assert stmts["OnlineTablesRead"]["Action"] == ["dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:GetItem"]
    assert stmts["OnlineTablesRead"]["Resource"] == [
        "arn:aws:dynamodb:us-east-1:123456789012:table/fs.mlops.driver_hourly_stats",
        "arn:aws:dynamodb:us-east-1:123456789012:table/fs.mlops.customer_profile"]
    assert stmts["DataKey"] == {"Sid": "DataKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"],
                                "Resource": [KEY_ARN]}


def test_materializer_writes_tables_and_registry_but_only_reads_offline(dev: Inventory) -> None:
    stmts = by_sid(policy(dev, "fs-materializer-identity-policy"))
    assert "OfflineRead" in stmts and "OfflineWrite" not in stmts
    assert "dynamodb:BatchWriteItem" in stmts["OnlineTablesWrite"]["Action"]
    assert "dynamodb:CreateTable" not in stmts["OnlineTablesWrite"]["Action"]
    assert "s3:PutObject" in stmts["RegistryWrite"]["Action"]
    assert "kms:GenerateDataKey" in stmts["DataKey"]["Action"]


def test_grants_are_scoped_to_this_store(dev: Inventory, prod: Inventory) -> None:
    bucket = dev.outputs["offlineBucketName"]
    read = by_sid(policy(dev, "fs-read-trainer"))
    assert dev.named("fs-read-trainer").inputs["role"] == dev.named("trainer").id
    assert read["OfflineRead"] == {"Sid": "OfflineRead", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                                   "Resource": [f"arn:aws:s3:::{bucket}/offline/*"]}
    assert read["DataKey"]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    write = by_sid(policy(dev, "fs-write-ingest"))
    assert "s3:PutObject" in write["OfflineWrite"]["Action"] and "kms:Encrypt" in write["DataKey"]["Action"]
    athena = by_sid(policy(prod, "fs-read-trainer"))
    assert athena["AthenaWorkgroup"]["Resource"] == ["arn:aws:athena:us-east-1:123456789012:workgroup/fs-athena"]
    assert athena["GlueDatabase"]["Resource"] == [
        "arn:aws:glue:us-east-1:123456789012:catalog", "arn:aws:glue:us-east-1:123456789012:database/fs_offline",
        "arn:aws:glue:us-east-1:123456789012:table/fs_offline/*"]


def test_redis_feature_server_needs_no_aws_permissions(prod: Inventory) -> None:
    names = {r.name for r in prod.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert "fs-server-identity-policy" not in names and "fs-materializer-identity-policy" in names
    assert len(prod.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")) == 2


def test_irsa_trust_is_scoped_to_each_service_account(dev: Inventory) -> None:
    trust = json.loads(dev.named("fs-server-identity-role").inputs["assumeRolePolicy"])["Statement"][0]
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
    assert trust["Condition"] == {"StringEquals": {f"{issuer}:sub": "system:serviceaccount:feast:fs-server",
                                                   f"{issuer}:aud": "sts.amazonaws.com"}}


# --- Kubernetes workloads -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", WORKLOADS)
def test_pods_follow_pod_security_defaults(dev: Inventory, kind: str) -> None:
    spec = pod_spec(dev.of_type(kind)[0])
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    container = spec["containers"][0]
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"] == container["resources"]["requests"]
    assert container["image"] == "quay.io/feastdev/feature-server:0.66.0"
    assert {"name": "config", "mountPath": "/feast", "readOnly": True} in container["volumeMounts"]


def test_feature_server_probes_service_pdb_and_hpa(prod: Inventory) -> None:
    deployment = prod.of_type("kubernetes:apps/v1:Deployment")[0]
    container = pod_spec(deployment)["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["command"][:4] == ["feast", "-f", "/feast/feature_store.yaml", "serve"]
    assert container["envFrom"] == [{"secretRef": {"name": "fs-server-secrets"}}]  # not the owner's password
    assert deployment.options["ignoreChanges"] == ["spec.replicas"]
    hpa = prod.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")[0].inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 9)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "fs-server"}
    pdb = prod.of_type("kubernetes:policy/v1:PodDisruptionBudget")[0].inputs["spec"]
    assert pdb["maxUnavailable"] == 1
    assert prod.outputs["featureServerUrl"] == "http://fs-server.feast.svc.cluster.local:6566"


def test_cronjob_runs_materialize_incremental_on_the_configured_schedule(dev: Inventory) -> None:
    job = dev.of_type("kubernetes:batch/v1:CronJob")[0].inputs["spec"]
    assert job["schedule"] == "15 */6 * * *" and job["concurrencyPolicy"] == "Forbid"
    command = pod_spec(dev.of_type("kubernetes:batch/v1:CronJob")[0])["containers"][0]["command"]
    assert "materialize-incremental" in command[2]
    assert pod_spec(dev.of_type("kubernetes:batch/v1:CronJob")[0])["serviceAccountName"] == "fs-materializer"


def test_kubernetes_children_use_the_callers_provider(dev: Inventory) -> None:
    provider = dev.named("k8s").urn
    k8s_records = [r for r in dev if r.custom and r.type.startswith("kubernetes:") and "providers" not in r.type]
    assert k8s_records and all(r.options["provider"] == provider for r in k8s_records)


def test_namespace_comes_from_the_cluster_when_it_owns_it(dev: Inventory, prod: Inventory) -> None:
    assert len(dev.of_type("kubernetes:core/v1:Namespace")) == 1
    assert prod.of_type("kubernetes:core/v1:Namespace") == []


# --- feature_store.yaml and secrets -------------------------------------------------------------------------

def test_feature_store_yaml_points_at_the_provisioned_stores(dev: Inventory, prod: Inventory) -> None:
    doc = yaml.safe_load(dev.outputs["featureStoreYaml"])
    feast_config.validate(doc)
    bucket = dev.outputs["offlineBucketName"]
    assert doc["registry"] == {"registry_type": "file", "path": f"s3://{bucket}/registry/registry.db",
                               "cache_ttl_seconds": 60}
    assert dev.outputs["registryPath"] == doc["registry"]["path"]
    template = doc["online_store"]["table_name_template"]
    assert sorted(template.format(project=doc["project"], table_name=v) for v in ("driver_hourly_stats", "customer_profile")) \
        == sorted(dev.outputs["onlineTableNames"]) == sorted(r.inputs["name"] for r in dev.of_type("aws:dynamodb/table:Table"))
    assert doc["offline_store"] == {"type": "file"}
    config_map = dev.of_type("kubernetes:core/v1:ConfigMap")[0]
    assert config_map.inputs["data"] == {"feature_store.yaml": dev.outputs["featureStoreYaml"]}

    prod_doc = yaml.safe_load(prod.outputs["featureStoreYaml"])
    feast_config.validate(prod_doc)
    assert prod_doc["online_store"]["connection_string"] == \
        f"{prod.outputs['onlineEndpoint']},ssl=true,username=${{FEAST_REDIS_USER}},password=${{FEAST_REDIS_PASSWORD}}"
    assert prod_doc["registry"]["registry_type"] == "sql"
    assert prod_doc["registry"]["path"].endswith(".us-east-1.rds.amazonaws.com:5432/feast?sslmode=require")
    # Exported for consumers: their own read-only login (feature_store_consumers.py), never the owner `feast`.
    assert prod_doc["registry"]["path"].startswith("postgresql+psycopg://${FEAST_REGISTRY_USER}:${FEAST_REGISTRY_PASSWORD}@")
    assert prod_doc["offline_store"] == {
        "type": "athena", "region": "us-east-1", "data_source": "AwsDataCatalog", "database": "fs_offline",
        "workgroup": "fs-athena", "s3_staging_location": f"s3://{prod.outputs['offlineBucketName']}/staging/feast"}


def test_no_secret_value_anywhere_in_the_plan(prod: Inventory) -> None:
    text = prod.dumps()
    assert "mock-" not in text  # the mock engine's random passwords all start with `mock-`
    assert prod.of_type("kubernetes:core/v1:Secret")[0].inputs["stringData"] == SECRET


def test_redis_without_private_subnets_is_a_path_qualified_error() -> None:
    with pytest.raises(PlanError) as info:
        planned("nosubnets", PROGRAM)
    # The message, then where: the component's line, and the program's line that built it (tests/test_program_errors.py).
    message, _, where = str(info.value).partition(" (at ")
    assert message.endswith("featureStore.online.type: redis needs private subnets, and the network has none")
    built_at = 1 + next(i for i, line in enumerate((PROGRAM / "__main__.py").read_text().splitlines())
                        if line.startswith("store = FeatureStore("))
    assert where.endswith(f"tests/programs/feature_store/__main__.py:{built_at})") and "called from" in where
