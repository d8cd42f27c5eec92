"""Kubeflow Pipelines as the cluster receives it: the all-engines plan with the kustomize Directory rendered at its
pin (what `pulumi up` applies), judged against what the 2.17.0 servers read (kubeflow/pipelines at 2.17.0):

- the API server reads viper keys from the environment with `.` -> `_`, upper-cased (backend/src/apiserver/
  main.go initConfig: SetEnvKeyReplacer(".", "_"), AutomaticEnv); the keys are client_manager.go's
  (DBConfig.MySQLConfig.*, ObjectStoreConfig.*) and `DBDriverName` (config.json default `mysql`);
- every configMapKeyRef / secretKeyRef a rendered pod reads resolves to a key the platform writes;
- what the platform owns is not in the Directory (its next apply would revert a patch), and the Directory waits
  for everything it reads.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlops_infra.pipelines import kfp
from mlops_infra.pipelines.kfp_database import MYSQL_PORT
from mlops_infra.plan import Inventory, ResourceRecord
from mlops_infra.security.exfiltration_guards import api_service_ips
from tests import iam_eval, netpol_eval
from tests.conftest import KFP_BASES, planned
from tests.integration.plans import VARIANTS
from tests.nonempty import each

NEEDS_BASES = pytest.mark.charts(KFP_BASES)

NS = "kubeflow"
DEPLOYMENT, CM, SECRET = "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret"
ES = "kubernetes:external-secrets.io/v1:ExternalSecret"
DIRECTORY = "kubernetes:kustomize/v2:Directory"


def viper_env(key: str) -> str:
    return key.replace(".", "_").upper()


# client_manager.go (2.17.0): mysqlServiceHost..mysqlExtraParams (lines 57-63), buildConfigFromEnvVars (988-995).
API_SERVER_KEYS = ("DBConfig.MySQLConfig.Host", "DBConfig.MySQLConfig.Port", "DBConfig.MySQLConfig.User",
                   "DBConfig.MySQLConfig.Password", "DBConfig.MySQLConfig.DBName", "DBConfig.MySQLConfig.ExtraParams",
                   "ObjectStoreConfig.BucketName", "ObjectStoreConfig.Host", "ObjectStoreConfig.Secure",
                   "ObjectStoreConfig.Region")


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("pipelines", VARIANTS, render=True)


@pytest.fixture(scope="module")
def plain() -> Inventory:
    """The same plan without rendering: the platform's own objects and the Directory (no chart store needed)."""
    return planned("pipelines", VARIANTS)


def in_ns(inv: Inventory, typ: str) -> list[ResourceRecord]:
    return [r for r in inv.of_type(typ) if (r.inputs.get("metadata") or {}).get("namespace") == NS]


def rendered(inv: Inventory, typ: str) -> dict[str, ResourceRecord]:
    return {r.name: r for r in in_ns(inv, typ) if r.options.get("rendered")}


def owned(inv: Inventory, typ: str) -> dict[str, ResourceRecord]:
    return {r.inputs["metadata"]["name"]: r for r in in_ns(inv, typ) if not r.options.get("rendered")}


def container(dep: ResourceRecord, name: str) -> dict[str, Any]:
    spec = dep.inputs["spec"]["template"]["spec"]
    found: dict[str, Any] = next(c for c in spec["containers"] if c["name"] == name)
    return found


def env_values(inv: Inventory, c: dict[str, Any]) -> dict[str, Any]:
    """Each env var's value as the pod sees it: literals, the owned ConfigMaps' data, or `secret:<name>/<key>`."""
    maps = {n: r.inputs.get("data") or {} for n, r in owned(inv, CM).items()}
    out: dict[str, Any] = {}
    for e in c.get("env") or []:
        ref = e.get("valueFrom") or {}
        if "configMapKeyRef" in ref:
            out[e["name"]] = maps[ref["configMapKeyRef"]["name"]].get(ref["configMapKeyRef"]["key"])
        elif "secretKeyRef" in ref:
            out[e["name"]] = f"secret:{ref['secretKeyRef']['name']}/{ref['secretKeyRef']['key']}"
        else:
            out[e["name"]] = e.get("value", ref)
    return out


def synced_keys(inv: Inventory) -> dict[str, set[str]]:
    """Secret name -> keys, for the Secrets External Secrets writes in the namespace."""
    return {es.inputs["spec"]["target"]["name"]: set(es.inputs["spec"]["target"]["template"]["data"])
            for es in in_ns(inv, ES)}


@NEEDS_BASES
def test_api_server_env_has_the_keys_the_2_17_0_code_reads(inv: Inventory) -> None:
    api = rendered(inv, DEPLOYMENT)["ml-pipeline"]
    env = env_values(inv, container(api, "ml-pipeline-api-server"))
    missing = [k for k in API_SERVER_KEYS if viper_env(k) not in env]
    assert not missing, f"the API server would fall back to defaults for {missing}"
    # Driver: not set, so config.json's `mysql` applies (DB_DRIVER_NAME, the manifests' name, is never read).
    assert viper_env("DBDriverName") not in env
    assert env["DBCONFIG_MYSQLCONFIG_HOST"] == kfp.DB_HOST and env["DBCONFIG_MYSQLCONFIG_PORT"] == str(MYSQL_PORT)
    assert json.loads(env["DBCONFIG_MYSQLCONFIG_EXTRAPARAMS"]) == {"tls": "skip-verify"}  # RDS requires TLS
    assert env["DBCONFIG_MYSQLCONFIG_PASSWORD"] == f"secret:{kfp.DB_SECRET}/password"
    assert "password" in synced_keys(inv)[kfp.DB_SECRET]
    # S3 through IRSA: the region's endpoint over TLS, the default port, no static keys.
    assert env["OBJECTSTORECONFIG_HOST"] == "s3.us-east-1.amazonaws.com" and env["OBJECTSTORECONFIG_SECURE"] == "true"
    assert env["OBJECTSTORECONFIG_REGION"] == "us-east-1"
    assert "OBJECTSTORECONFIG_PORT" not in env
    # The image's /config/config.json sets AccessKey "minio" / SecretAccessKey "minio123" (2.17.0): only a variable
    # set to "" overrides them (main.go AllowEmptyEnv(true); GetStringConfigWithDefault checks IsSet), and
    # loadAWSConfig signs with static keys unless both are empty.
    assert env["OBJECTSTORECONFIG_ACCESSKEY"] == "" and env["OBJECTSTORECONFIG_SECRETACCESSKEY"] == ""
    bucket = env["OBJECTSTORECONFIG_BUCKETNAME"]
    assert bucket and inv.outputs["kfpArtifactBucket"] == bucket


def test_database_host_is_the_rds_mysql_instance_with_tls_required(plain: Inventory) -> None:
    inv = plain
    (db,) = [r for r in inv.of_type("aws:rds/instance:Instance") if r.name.endswith("kfp-db")]
    assert db.inputs["engine"] == "mysql" and db.inputs["port"] == MYSQL_PORT
    assert db.inputs["manageMasterUserPassword"] is True and db.inputs["publiclyAccessible"] is False
    (params,) = [r for r in inv.of_type("aws:rds/parameterGroup:ParameterGroup") if r.name.endswith("kfp-db-params")]
    values = {p["name"]: p["value"] for p in params.inputs["parameters"]}
    assert values["require_secure_transport"] == "1" and params.inputs["family"] == "mysql8.4"
    host = owned(inv, "kubernetes:core/v1:Service")[kfp.DB_HOST]
    assert host.inputs["spec"]["type"] == "ExternalName"
    assert host.inputs["spec"]["externalName"].endswith(".rds.amazonaws.com")
    assert db.urn in host.property_dependencies["spec"], "the host name is not the instance's address"


@NEEDS_BASES
def test_every_key_a_rendered_pod_reads_is_written(inv: Inventory) -> None:
    maps = {n: set(r.inputs.get("data") or {}) for n, r in owned(inv, CM).items()}
    maps |= {n: set(r.inputs.get("data") or {}) for n, r in rendered(inv, CM).items()}
    secrets = synced_keys(inv)
    deployments = rendered(inv, DEPLOYMENT)
    assert deployments, "the Directory rendered no Deployment"
    problems = []
    for name, dep in each(deployments.items()):
        spec = dep.inputs["spec"]["template"]["spec"]
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            for e in c.get("env") or []:
                for kind, known in (("configMapKeyRef", maps), ("secretKeyRef", secrets)):
                    ref = (e.get("valueFrom") or {}).get(kind)
                    if ref and not ref.get("optional") and ref["key"] not in known.get(ref["name"], set()):
                        problems.append(f"{name}/{c['name']} {e['name']}: {ref['name']}[{ref['key']}]")
        for v in spec.get("volumes") or []:
            if "secret" in v:
                assert v["secret"]["secretName"] in secrets, f"{name}: volume {v['name']}"
    assert not problems, problems


@NEEDS_BASES
def test_ml_metadata_reads_a_tls_config_file_from_the_synced_secret(inv: Inventory) -> None:
    dep = rendered(inv, DEPLOYMENT)["metadata-grpc-deployment"]
    c = container(dep, "container")
    args = dict(a.removeprefix("--").split("=", 1) for a in c["args"])
    assert args["metadata_source_config_type"] == "config_file"
    path = args["metadata_store_server_config_file"]
    (mount,) = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in dep.inputs["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    (es,) = [e for e in in_ns(inv, ES) if e.inputs["spec"]["target"]["name"] == volume["secret"]["secretName"]]
    text = es.inputs["spec"]["target"]["template"]["data"][path.rsplit("/", 1)[1]]
    assert f'host: "{kfp.DB_HOST}"' in text and f"port: {MYSQL_PORT}" in text and f'database: "{kfp.MLMD_DB}"' in text
    assert "ssl_options {" in text and "{{ .password" in text and "enable_upgrade_migration: true" in text


@NEEDS_BASES
def test_platform_owned_objects_are_not_in_the_directory(inv: Inventory) -> None:
    names = {(r.type, r.name) for r in inv.resources if r.options.get("rendered") and NS in r.urn}
    assert names, "the Directory renders objects in the namespace"
    for typ, name in ((CM, kfp.INSTALL_CONFIG), (CM, kfp.LAUNCHER_CONFIG),
                      *(("kubernetes:core/v1:ServiceAccount", sa) for sa in (kfp.API_SA, kfp.UI_SA, kfp.RUNNER_SA))):
        assert (typ, name) not in names, f"{name} is both owned and rendered"
    assert not [r for r in inv.resources if r.type.endswith("Patch") and "kfp" in r.name]


def test_the_directory_waits_for_the_platform_owned_objects_it_reads(plain: Inventory) -> None:
    inv = plain
    (directory,) = [r for r in inv.of_type(DIRECTORY) if r.name.endswith("kfp-manifests")]
    waits = set(directory.options["dependsOn"])
    # The password-rotation restarter's script ConfigMap is read by the restarter only, not by the Directory's pods.
    needed = [r for r in [*owned(inv, CM).values(), *in_ns(inv, ES)] if "kfp" in r.name and "rotation" not in r.name]
    needed += [r for r in inv.of_type("aws:rds/instance:Instance") if r.name.endswith("kfp-db")]
    assert len(needed) >= 5 and not [r.name for r in needed if r.urn not in waits]
    assert not [r.name for r in inv.resources if directory.urn in r.dependencies and "ui-ingress" not in r.name
                and not r.options.get("rendered")]


@NEEDS_BASES
def test_ui_reads_the_bucket_with_its_own_irsa_role(inv: Inventory) -> None:
    env = env_values(inv, container(rendered(inv, DEPLOYMENT)["ml-pipeline-ui"], "ml-pipeline-ui"))
    assert env["AWS_S3_ENDPOINT"] == "s3.us-east-1.amazonaws.com" and "MINIO_ACCESS_KEY" not in env
    (sa,) = [s for s in owned(inv, "kubernetes:core/v1:ServiceAccount").values() if s.name.endswith("kfp-ui-sa")]
    assert sa.inputs["metadata"]["name"] == kfp.UI_SA
    arn = sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    (role,) = [r for r in inv.of_type("aws:iam/role:Role") if arn.endswith("/" + str(r.inputs.get("name") or r.id))]
    docs = [json.loads(p.inputs["policy"]) for p in inv.of_type("aws:iam/rolePolicy:RolePolicy")
            if p.inputs["role"] in (role.id, role.name, role.inputs.get("name"))]
    bucket = inv.outputs["kfpArtifactBucket"]
    assert iam_eval.allows(docs, "s3:GetObject", f"arn:aws:s3:::{bucket}/pipelines/run/x.txt")
    assert not iam_eval.allows(docs, "s3:PutObject", f"arn:aws:s3:::{bucket}/pipelines/run/x.txt")


@NEEDS_BASES
def test_no_v1_cache_webhook_nor_csr_approval(inv: Inventory) -> None:
    objects = [r for r in inv.resources if r.options.get("rendered") and "kfp" in r.urn]
    assert objects
    assert not [r.name for r in objects if "cache" in r.name]
    # Namespaced install: no cluster-wide role (the cache deployer's approved CSRs and patched webhooks).
    assert not [r.name for r in objects if r.type.rsplit(":", 1)[1] in (
        "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration", "CertificateSigningRequest")]


@NEEDS_BASES
def test_database_and_api_egress_select_only_their_clients(inv: Inventory) -> None:
    policies = [p for p in netpol_eval.policies_in(inv) if p.namespace == NS]
    pods = {name: dict(d.inputs["spec"]["template"]["metadata"].get("labels") or {})
            for name, d in rendered(inv, DEPLOYMENT).items()}
    (vpc,) = inv.of_type("aws:ec2/vpc:Vpc")
    database = netpol_eval.Ip(vpc.inputs["cidrBlock"].replace("0/16", "57"))
    api = netpol_eval.Ip(api_service_ips(None)[1].split("/")[0])
    reach_db = {n for n, labels in pods.items()
                if netpol_eval.allows(policies, netpol_eval.Pod(NS, labels), database, MYSQL_PORT)}
    assert reach_db == {"ml-pipeline", "metadata-grpc-deployment"}
    reach_api = {n for n, labels in pods.items() if netpol_eval.allows(policies, netpol_eval.Pod(NS, labels), api, 443)}
    assert reach_api == {"ml-pipeline", "ml-pipeline-persistenceagent", "ml-pipeline-scheduledworkflow",
                         "ml-pipeline-ui", "ml-pipeline-viewer-crd", "metadata-writer", "workflow-controller"}
    step = netpol_eval.Pod(NS, {"workflows.argoproj.io/workflow": "wf-1", "app": "user"})
    assert netpol_eval.allows(policies, step, api, 443) and not netpol_eval.allows(policies, step, database, MYSQL_PORT)


@NEEDS_BASES
def test_ui_reads_archived_logs_where_argo_archives_them(inv: Inventory) -> None:
    """After Argo's pod GC the UI reads a step's log from Argo's archive (frontend/server/handlers/pod-logs.ts,
    configs.ts ARGO_ARCHIVE_*, 2.17.0): the same bucket and key format as the namespace's artifact repository."""
    env = env_values(inv, container(rendered(inv, DEPLOYMENT)["ml-pipeline-ui"], "ml-pipeline-ui"))
    repo_cm = owned(inv, CM)[kfp.ARTIFACT_REPOSITORIES].inputs["data"][kfp.DEFAULT_REPOSITORY_KEY]
    repo = yaml.safe_load(repo_cm)
    assert repo["archiveLogs"] is True and env["ARGO_ARCHIVE_LOGS"] == "true"
    assert env["ARGO_ARCHIVE_ARTIFACTORY"] == "s3"  # minio-helper's AWS client: the default credential chain
    assert env["ARGO_ARCHIVE_BUCKETNAME"] == repo["s3"]["bucket"] == inv.outputs["kfpArtifactBucket"]
    assert env["ARGO_KEYFORMAT"] == repo["s3"]["keyFormat"]


@NEEDS_BASES
def test_step_pods_cannot_read_the_namespaces_secrets(inv: Inventory) -> None:
    """pipeline-runner (every step pod) shares `kubeflow` with mysql-secret and metadata-mysql-config. The 2.17.0
    launcher reads a Secret only for object-store credentials that are not `fromEnv`
    (backend/src/v2/objectstore/object_store.go), and kfp-launcher's are `fromEnv` (IRSA): no Secret verb is bound."""
    providers = yaml.safe_load(owned(inv, CM)[kfp.LAUNCHER_CONFIG].inputs["data"]["providers"])
    assert providers["s3"]["default"]["credentials"] == {"fromEnv": True}
    roles = {(r.type.rsplit(":", 1)[1], r.inputs["metadata"]["name"]): r.inputs.get("rules") or []
             for r in inv.resources if r.type.rsplit(":", 1)[1] in ("Role", "ClusterRole") and "metadata" in r.inputs
             and (r.type.endswith("ClusterRole") or (r.inputs["metadata"].get("namespace") == NS))}
    bound = [rule for b in inv.resources if b.type.rsplit(":", 1)[1] in ("RoleBinding", "ClusterRoleBinding")
             and any(s.get("kind") == "ServiceAccount" and s.get("name") == kfp.RUNNER_SA
                     and s.get("namespace", NS) == NS for s in b.inputs.get("subjects") or [])
             and (b.type.endswith("ClusterRoleBinding") or (b.inputs.get("metadata") or {}).get("namespace") == NS)
             for rule in roles.get((b.inputs["roleRef"]["kind"], b.inputs["roleRef"]["name"]), [])]
    assert any("configmaps" in r.get("resources", []) for r in bound), "the runner's Role is bound (and read)"
    secret_rules = [r for r in bound if "" in r.get("apiGroups", []) and
                    {"secrets", "*"} & set(r.get("resources", [])) and {"get", "list", "watch", "*"} & set(r["verbs"])]
    assert not secret_rules
