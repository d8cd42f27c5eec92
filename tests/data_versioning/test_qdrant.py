"""Qdrant's wiring, read from the plan of tests/programs/qdrant: the StorageClass its volumes use, the keys (a
`secretKeyRef` to the ExternalSecret's target, never a value), the stores' and the snapshot job's roles (evaluated
with tests/iam_eval.py), the NetworkPolicy (tests/netpol_eval.py), the values contract, rules and PDB."""

from __future__ import annotations

import json
import re
from typing import Any

import promql_parser
import pytest
import yaml

from mlops_infra.data.qdrant_config import METRICS_PORT, QdrantConfig
from mlops_infra.data.qdrant_snapshot import __file__ as JOB_FILE
from mlops_infra.data.qdrant_values import RULE_METRICS, SNAPSHOTS_VOLUME, rule_groups
from mlops_infra.plan import SECRET as SECRET_VALUE
from mlops_infra.plan import Inventory
from tests import iam_eval, netpol_eval
from tests.conftest import PROGRAMS, planned
from tests.netpol_eval import Pod
from tests.nonempty import each
from tests.system_capacity import memory_mib
from tests.test_helm_values_contract import contract, leaves, surviving_defaults

PROGRAM = PROGRAMS / "qdrant"
RELEASE = "kubernetes:helm.sh/v3:Release"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
SECRET = "aws:secretsmanager/secret:Secret"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/"


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", PROGRAM)


@pytest.fixture(scope="module")
def minimal() -> Inventory:
    return planned("minimal", PROGRAM)


def values(inv: Inventory) -> dict[str, Any]:
    [release] = inv.of_type(RELEASE)
    result: dict[str, Any] = release.inputs["values"]
    return result


def policy(inv: Inventory, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(inv.named(name).inputs["policy"])
    return doc


def secret_arn(inv: Inventory, name: str) -> str:
    # Secrets Manager appends 6 random characters to a secret's ARN (the mock does too: `-AbCdEf`).
    return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{inv.named(name).inputs['name']}-AbCdEf"


# --- volumes -------------------------------------------------------------------------------------------------------

def test_volumes_use_the_clusters_encrypted_storage_class_or_the_configured_one(prod: Inventory,
                                                                                 minimal: Inventory) -> None:
    v = values(prod)
    assert v["persistence"]["storageClassName"] == "gp3"  # ClusterRefs.storage_classes[0]: gp3, encrypted with KMS
    assert v["snapshotPersistence"] == {"enabled": True, "storageClassName": "gp3", "size": "20Gi"}
    assert values(minimal)["persistence"]["storageClassName"] == "gp3-custom"


def test_prod_protects_the_release_secrets_and_bucket(prod: Inventory, minimal: Inventory) -> None:
    [release] = prod.of_type(RELEASE)
    assert release.options.get("protect") is True and release.options.get("retainOnDelete") is True
    assert all(s.options.get("protect") is True for s in each(prod.of_type(SECRET)))
    [bucket] = [r for r in prod.of_type("aws:s3/bucket:Bucket") if r.name == "mlops-prod-qdrant-snapshots"]
    assert bucket.options.get("protect") is True
    [unprotected] = minimal.of_type(RELEASE)
    assert not unprotected.options.get("protect")


# --- keys ----------------------------------------------------------------------------------------------------------

def test_the_server_reads_both_keys_by_secret_key_ref_from_the_external_secrets_target(prod: Inventory) -> None:
    v = values(prod)
    assert "apiKey" not in v and "readOnlyApiKey" not in v  # the chart would copy them through `lookup`
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in v["env"]}
    [server] = [e for e in prod.of_type(EXTERNAL_SECRET) if e.inputs["metadata"]["namespace"] == "qdrant"]
    target = server.inputs["spec"]["target"]["name"]
    synced = {d["secretKey"] for d in server.inputs["spec"]["data"]}
    assert env == {"QDRANT__SERVICE__API_KEY": {"name": target, "key": "api-key"},
                   "QDRANT__SERVICE__READ_ONLY_API_KEY": {"name": target, "key": "read-only-api-key"}}
    assert synced == {"api-key", "read-only-api-key"}
    remote = {d["secretKey"]: d["remoteRef"]["key"] for d in server.inputs["spec"]["data"]}
    assert remote == {"api-key": prod.named("mlops-prod-qdrant-api-key-secret").inputs["name"],
                      "read-only-api-key": prod.named("mlops-prod-qdrant-read-only-api-key-secret").inputs["name"]}


def test_no_key_is_a_plain_value_anywhere(prod: Inventory) -> None:
    passwords = [r for r in prod.resources if r.type == "random:index/randomPassword:RandomPassword"]
    assert len(passwords) == 2
    for version in each(prod.of_type("aws:secretsmanager/secretVersion:SecretVersion")):
        assert version.inputs["secretString"] == SECRET_VALUE, version.name
    text = json.dumps([r.inputs for r in prod.resources if r.type.startswith("kubernetes:")])
    assert "QDRANT__SERVICE__API_KEY\", \"value\"" not in text


def test_each_namespace_gets_its_levels_key_through_a_store_it_may_use(prod: Inventory) -> None:
    creds = {e.inputs["metadata"]["namespace"]: e.inputs["spec"] for e in prod.of_type(EXTERNAL_SECRET)
             if e.inputs["spec"]["target"]["name"] == prod.outputs["credentialsSecret"]}
    assert set(creds) == {"research", "ranking"}
    api, ro = (prod.named(f"mlops-prod-qdrant-{k}-secret").inputs["name"] for k in ("api-key", "read-only-api-key"))
    assert creds["research"]["data"][0]["remoteRef"]["key"] == api
    assert creds["ranking"]["data"][0]["remoteRef"]["key"] == ro
    template = creds["ranking"]["target"]["template"]["data"]
    assert template["QDRANT_URL"] == "http://mlops-prod-qdrant.qdrant.svc.cluster.local:6333"
    stores = {s.inputs["metadata"]["name"]: s.inputs["spec"] for s in prod.of_type(STORE)}
    assert stores["mlops-prod-qdrant-rw"]["conditions"] == [{"namespaces": ["qdrant", "research"]}]
    assert stores["mlops-prod-qdrant-ro"]["conditions"] == [{"namespaces": ["ranking"]}]
    assert creds["ranking"]["secretStoreRef"]["name"] == "mlops-prod-qdrant-ro"


def test_the_read_only_store_role_cannot_read_the_read_write_key(prod: Inventory) -> None:
    rw = [policy(prod, "mlops-prod-qdrant-secrets-rw-policy")]
    ro = [policy(prod, "mlops-prod-qdrant-secrets-ro-policy")]
    api = secret_arn(prod, "mlops-prod-qdrant-api-key-secret")
    read_only = secret_arn(prod, "mlops-prod-qdrant-read-only-api-key-secret")
    assert iam_eval.allows(rw, "secretsmanager:GetSecretValue", api)
    assert iam_eval.allows(rw, "secretsmanager:GetSecretValue", read_only)
    assert iam_eval.allows(ro, "secretsmanager:GetSecretValue", read_only)
    assert not iam_eval.allows(ro, "secretsmanager:GetSecretValue", api)


def test_external_secrets_wait_for_the_operator(prod: Inventory) -> None:
    marker = prod.named("external-secrets").urn
    for record in each([*prod.of_type(EXTERNAL_SECRET), *prod.of_type(STORE)]):
        assert marker in record.dependencies, record.name


# --- snapshots -----------------------------------------------------------------------------------------------------

def test_the_snapshot_role_can_put_snapshots_and_nothing_else(prod: Inventory) -> None:
    doc = [policy(prod, "mlops-prod-qdrant-snapshot-job-policy")]
    bucket = prod.outputs["snapshotBucket"]
    obj = f"arn:aws:s3:::{bucket}/snapshots/mlops-prod-qdrant-0/docs/docs-1-2026-11-30-10-00-00.snapshot"
    key = next(s for s in doc[0]["Statement"] if s["Sid"] == "EncryptSnapshots")["Resource"][0]
    assert key.startswith(KEY_ARN)
    # boto3 upload_file: PutObject (single or multipart parts), AbortMultipartUpload on failure; SSE-KMS needs
    # GenerateDataKey, multipart also Decrypt.
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        assert iam_eval.allows(doc, action, obj)
    assert iam_eval.allows(doc, "kms:GenerateDataKey", key) and iam_eval.allows(doc, "kms:Decrypt", key)
    for action in ("s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl",
                   "s3:PutBucketPolicy"):
        assert not iam_eval.allows(doc, action, obj), action
    assert not iam_eval.allows(doc, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
    assert not iam_eval.allows(doc, "s3:PutObject", f"arn:aws:s3:::{bucket}/elsewhere/x")
    assert not iam_eval.allows(doc, "s3:PutObject", "arn:aws:s3:::another-bucket/snapshots/x")


def test_the_cronjob_runs_the_job_module_against_every_node_as_its_service_account(prod: Inventory) -> None:
    [cron] = prod.of_type("kubernetes:batch/v1:CronJob")
    pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["QDRANT_URLS"]["value"].split(",") == [
        f"http://mlops-prod-qdrant-{i}.mlops-prod-qdrant-headless.qdrant.svc.cluster.local:6333" for i in range(3)]
    assert env["QDRANT_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "mlops-prod-qdrant-api-keys",
                                                                  "key": "api-key"}
    assert env["SNAPSHOT_BUCKET"]["value"] == prod.outputs["snapshotBucket"]
    code = prod.named("mlops-prod-qdrant-snapshot-code").inputs["data"]["qdrant_snapshot.py"]
    with open(JOB_FILE) as source:
        assert code == source.read()
    assert container["command"] == ["python", "/job/qdrant_snapshot.py"]
    sa = prod.named("mlops-prod-qdrant-snapshot-job-sa").inputs["metadata"]
    assert pod["serviceAccountName"] == sa["name"]
    assert sa["annotations"]["eks.amazonaws.com/role-arn"]
    assert cron.inputs["spec"]["concurrencyPolicy"] == "Forbid"


def test_snapshot_bucket_expires_old_snapshots(prod: Inventory, minimal: Inventory) -> None:
    rules = prod.named("mlops-prod-qdrant-snapshots-lifecycle").inputs["rules"]
    [expire] = [r for r in rules if r["id"] == "expire-snapshots"]
    assert expire["expiration"] == {"days": 14} and expire["filter"] == {"prefix": "snapshots/"}
    assert not minimal.of_type("kubernetes:batch/v1:CronJob") and minimal.outputs.get("snapshotBucket") is None


# --- network -------------------------------------------------------------------------------------------------------

def qdrant_pod(inv: Inventory) -> Pod:
    return Pod("qdrant", values(inv)["podLabels"])


@pytest.mark.parametrize(("source", "port", "admitted"), [
    (Pod("research", {"app": "notebook"}), 6333, True),
    (Pod("ranking", {"app": "rag"}), 6334, True),
    (Pod("qdrant", {"app.kubernetes.io/name": "qdrant-snapshot"}), 6333, True),
    (Pod("monitoring", {"app.kubernetes.io/name": "prometheus"}), METRICS_PORT, True),
    (Pod("feast", {"app": "feature-server"}), 6333, False),
    (Pod("default", {}), 6334, False),
    (Pod("monitoring", {"app.kubernetes.io/name": "prometheus"}), 6333, False),
    (Pod("research", {"app": "notebook"}), METRICS_PORT, False),
    (Pod("research", {"app": "notebook"}), 6335, False),
    (Pod("qdrant", {"app.kubernetes.io/name": "qdrant-snapshot"}), 6335, False),
])
def test_the_network_policy_admits_granted_namespaces_and_prometheus_only(
        prod: Inventory, source: Pod, port: int, admitted: bool) -> None:
    policies = netpol_eval.policies_in(prod)
    assert netpol_eval.allows(policies, source, qdrant_pod(prod), port) is admitted


def test_nodes_reach_each_other_on_p2p(prod: Inventory) -> None:
    assert netpol_eval.allows(netpol_eval.policies_in(prod), qdrant_pod(prod), qdrant_pod(prod), 6335)


# --- chart contract, scraping, rules, PDB ---------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["prod", "minimal"])
def test_every_value_exists_in_the_pinned_chart(stack: str, prod: Inventory, minimal: Inventory) -> None:
    inv = {"prod": prod, "minimal": minimal}[stack]
    [release] = inv.of_type(RELEASE)
    c = contract(release.inputs["chart"], release.inputs["version"])
    assert c is not None
    v = values(inv)
    assert [p for p in leaves(v) if not c.knows(p)] == []
    assert surviving_defaults(v, c) == []
    assert not c.knows("config.service") or c.knows("config.service.metrics_port")


def headless_service_labels(v: dict[str, Any]) -> dict[str, str]:
    """charts/qdrant templates/service-headless.yaml at qdrant-1.19.0: `qdrant.labels` (chart, selector labels,
    version, managed-by) + additionalLabels + `app.kubernetes.io/component: cluster-discovery` +
    service.additionalLabels. (The main Service has no `component` label.)"""
    return {"helm.sh/chart": "qdrant-1.19.0", "app": "qdrant", "app.kubernetes.io/name": "qdrant",
            "app.kubernetes.io/instance": "any-release-name", "app.kubernetes.io/version": "v1.19.0",
            "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/component": "cluster-discovery",
            **v["service"].get("additionalLabels", {})}


def test_the_service_monitor_selects_the_headless_service_on_the_metrics_port(prod: Inventory) -> None:
    [monitor] = prod.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    v = values(prod)
    spec = monitor.inputs["spec"]
    labels = headless_service_labels(v)
    assert all(labels.get(k) == want for k, want in each(spec["selector"]["matchLabels"].items()))
    assert [e["port"] for e in spec["endpoints"]] == ["metrics"]
    assert {"name": "metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT, "protocol": "TCP",
            "checksEnabled": False} in v["service"]["ports"]
    assert v["config"]["service"]["metrics_port"] == METRICS_PORT


def series_read(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def test_rules_cover_unavailable_disk_latency_and_read_only_emitted_metrics(prod: Inventory) -> None:
    [rule] = prod.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    alerts = {r["alert"]: r for g in rule.inputs["spec"]["groups"] for r in g["rules"]}
    assert {"QdrantUnavailable", "QdrantNodeDown", "QdrantDiskAlmostFull", "QdrantSearchLatencyHigh",
            "QdrantSnapshotStale"} <= set(alerts)
    for alert in each(alerts.values()):
        assert series_read(alert["expr"]) <= RULE_METRICS, alert["alert"]
    # The data and the snapshots volumes (the chart's claim templates `qdrant-storage` and `qdrant-snapshots`).
    assert 'persistentvolumeclaim=~"(qdrant-storage|qdrant-snapshots)-mlops-prod-qdrant-[0-9]+"' in \
        alerts["QdrantDiskAlmostFull"]["expr"]


def test_the_metric_check_can_fail() -> None:
    groups = rule_groups(QdrantConfig(), namespace="qdrant", fullname="q", snapshot_cronjob=None)
    assert "qdrant_rest_responses_duration_seconds_bucket" not in RULE_METRICS  # no `qdrant_` prefix at v1.19.0
    assert not series_read("qdrant_collections_total") <= RULE_METRICS
    assert all(series_read(r["expr"]) <= RULE_METRICS for g in each(groups) for r in g.rules)


def test_the_pdb_lets_a_drain_evict_one_node_at_a_time(prod: Inventory) -> None:
    assert values(prod)["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}


def test_pods_are_restricted_and_sized(prod: Inventory) -> None:
    v = values(prod)
    assert v["image"] == {"useUnprivilegedImage": True}  # no root `ensure-dir-ownership` init container
    sc = v["containerSecurityContext"]
    assert sc["runAsNonRoot"] and sc["capabilities"] == {"drop": ["ALL"]} and sc["readOnlyRootFilesystem"]
    assert v["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert v["resources"]["requests"] == v["resources"]["limits"] == {"cpu": "500m", "memory": "2Gi"}


# --- config --------------------------------------------------------------------------------------------------------

def test_bad_qdrant_config_is_reported_by_path() -> None:
    from mlops_infra.config import ConfigError
    from mlops_infra.platform.loader import load_platform_config
    base: dict[str, Any] = {"environment": "staging", "tags": {"owner": "ml-platform", "costCenter": "cc-1234"},
                            "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]}}
    bad = {**base, "data": {"qdrant": {"clientNamespaces": ["research"], "readOnlyNamespaces": ["research"],
                                       "snapshots": {"schedule": "every day"}}}}
    with pytest.raises(ConfigError) as err:
        load_platform_config(bad)
    assert "data.qdrant.readOnlyNamespaces: research also in clientNamespaces" in str(err.value)
    assert "data.qdrant.snapshots.schedule" in str(err.value)
    pod_identity = {**base, "cluster": {**base["cluster"], "workloadIdentity": "podIdentity"}}
    with pytest.raises(ConfigError) as err:
        load_platform_config(pod_identity)  # staging turns Qdrant on
    assert "data.qdrant.enabled: Qdrant's secret stores authenticate with IRSA" in str(err.value)
    assert load_platform_config(base).data.qdrant.enabled


def test_on_the_prod_platform_team_pods_reach_qdrant_through_the_exfiltration_guards() -> None:
    """Prod's ML namespaces have egress policies (exfiltration guards): they must let team pods out to Qdrant's
    API, and Qdrant's ingress policy must let them in; a service namespace (feast) stays out."""
    inv = planned("prod")
    [release] = [r for r in inv.of_type(RELEASE) if r.inputs["chart"] == "qdrant"]
    qdrant = Pod(release.inputs["namespace"], release.inputs["values"]["podLabels"])
    policies = netpol_eval.policies_in(inv)
    for team in ("research", "ranking"):
        for port in (6333, 6334):
            assert netpol_eval.allows(policies, Pod(team, {"app": "rag"}), qdrant, port), (team, port)
    assert not netpol_eval.allows(policies, Pod("feast", {"app": "feature-server"}), qdrant, 6333)


@pytest.mark.charts("qdrant")
def test_both_volumes_the_chart_claims_are_watched_for_free_space() -> None:
    """The rendered StatefulSet's claim templates (data and snapshots) match the alert's PVC regex."""
    rendered = planned("prod", PROGRAM, render=True)
    [sts] = [r.inputs for r in rendered.rendered() if r.inputs.get("kind") == "StatefulSet"]
    claims = [f"{t['metadata']['name']}-{sts['metadata']['name']}-0" for t in sts["spec"]["volumeClaimTemplates"]]
    assert len(claims) == 2, claims
    [rule] = rendered.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    [expr] = [r["expr"] for g in rule.inputs["spec"]["groups"] for r in g["rules"] if r["alert"] == "QdrantDiskAlmostFull"]
    pattern = re.search(r'persistentvolumeclaim=~"([^"]+)"', expr)
    assert pattern is not None
    for claim in claims:
        assert re.fullmatch(pattern.group(1), claim), claim
    assert not re.fullmatch(pattern.group(1), "restore-scratch")


def test_no_telemetry_and_a_stuck_snapshot_run_is_stopped(prod: Inventory) -> None:
    assert values(prod)["config"]["telemetry_disabled"] is True  # settings.rs: default false (reports to Qdrant)
    [cron] = prod.of_type("kubernetes:batch/v1:CronJob")
    spec = cron.inputs["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"  # so a run without a deadline would hold every later one
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == QdrantConfig().snapshots.job_timeout_minutes * 60


@pytest.mark.charts("qdrant")
def test_snapshot_archives_are_built_on_the_snapshots_volume_not_the_data_volume() -> None:
    """Qdrant builds snapshot archives in `storage.temp_path` (unset: under the data volume's storage dir). The
    rendered production.yaml's temp_path lies under the mount of the snapshots claim, not under the data claim's."""
    rendered = planned("prod", PROGRAM, render=True)
    objs = [r.inputs for r in rendered.rendered()]
    [sts] = [o for o in objs if o.get("kind") == "StatefulSet"]
    [config] = [o for o in objs if o.get("kind") == "ConfigMap" and "production.yaml" in o.get("data", {})]
    temp_path = yaml.safe_load(config["data"]["production.yaml"])["storage"]["temp_path"]
    [container] = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "qdrant"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claims = [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]]
    assert len(claims) == 2, claims
    under = [c for c in claims if temp_path.startswith(mounts[c].rstrip("/") + "/")]
    assert under == [SNAPSHOTS_VOLUME], (temp_path, mounts)


def test_the_snapshot_job_requests_the_node_disk_its_staging_dir_may_fill(prod: Inventory) -> None:
    """The staging emptyDir is node ephemeral storage: the container requests at least its sizeLimit."""
    [cron] = prod.of_type("kubernetes:batch/v1:CronJob")
    pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    dirs = [v for v in pod["volumes"] if "emptyDir" in v]
    assert dirs, "the job stages in no emptyDir"
    [container] = pod["containers"]
    requested = container["resources"]["requests"].get("ephemeral-storage")
    assert requested is not None
    staged = sum(memory_mib(v["emptyDir"]["sizeLimit"]) for v in dirs)
    assert memory_mib(requested) >= staged > 0
