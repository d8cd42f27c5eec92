"""Model serving in the staging and prod plans: runtime wiring, not just "it plans"."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from mlops_infra.serving.runtimes import RUNTIME_OF
from tests import iam_eval
from tests.nonempty import each

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime"
RELEASE = "kubernetes:helm.sh/v3:Release"


def _serving(inv: Inventory, typ: str) -> list[ResourceRecord]:
    return [r for r in inv.of_type(typ) if "-serving-" in r.name]


def _isvc(inv: Inventory, name: str) -> dict[str, Any]:
    (rec,) = [r for r in inv.of_type(ISVC) if r.inputs["metadata"]["name"] == name]
    return rec.inputs


def _artifact_bucket(inv: Inventory) -> str:
    """The registry's artifact bucket (auto-named: its physical name is its id in the plan)."""
    (bucket,) = [r for r in inv.of_type("aws:s3/bucket:Bucket") if r.name.endswith("-registry-artifacts")]
    return str(bucket.id)


def _role_docs(inv: Inventory, role_prefix: str) -> list[Any]:
    return [json.loads(r.inputs["policy"]) for r in inv.of_type("aws:iam/rolePolicy:RolePolicy")
            if r.name.startswith(role_prefix)]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_storage_uri_points_at_the_registry_artifact_bucket(stack: str, request: pytest.FixtureRequest) -> None:
    inv: Inventory = request.getfixturevalue(f"{stack}_plan")
    bucket = _artifact_bucket(inv)
    model = _isvc(inv, "churn")["spec"]["predictor"]["model"]
    assert model["storageUri"] == f"s3://{bucket}/artifacts/1/models/m-5f0c2d9e8a7b4c3d/artifacts"


def test_the_model_servers_role_reads_the_artifacts_and_cannot_write_them(prod_plan: Inventory) -> None:
    bucket = _artifact_bucket(prod_plan)
    docs = _role_docs(prod_plan, "mlops-prod-serving-model-server")
    assert docs, "the model servers have no role policy"
    obj = f"arn:aws:s3:::{bucket}/artifacts/1/models/m-5f0c2d9e8a7b4c3d/artifacts/MLmodel"
    assert iam_eval.allows(docs, "s3:GetObject", obj)
    assert iam_eval.allows(docs, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
    for action in ("s3:PutObject", "s3:DeleteObject", "kms:Encrypt", "kms:GenerateDataKey"):
        assert not iam_eval.allows(docs, action, obj), action
    assert not iam_eval.allows(docs, "s3:GetObject", "arn:aws:s3:::another-bucket/x")


def test_the_model_servers_read_only_the_served_paths_and_the_monitoring_inputs(prod_plan: Inventory) -> None:
    """Review of #29 (minor b): not the whole artifact bucket. Every served model's (and canary's) path, as an object
    and as a prefix, and `<monitoringPrefix>/`; no other model's artifacts, no other key of the bucket."""
    bucket = _artifact_bucket(prod_plan)
    docs = _role_docs(prod_plan, "mlops-prod-serving-model-server")
    paths = [m["storageUri"].removeprefix(f"s3://{bucket}/") for isvc in prod_plan.of_type(ISVC)
             for m in [isvc.inputs["spec"]["predictor"]["model"],
                       *(c["predictor"]["model"] for c in isvc.inputs["spec"].get("canary", []))]]
    for path in each(paths):
        for key in (path, f"{path}/MLmodel", f"{path}/data/model.pkl"):
            assert iam_eval.allows(docs, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"), key
    assert iam_eval.allows(docs, "s3:GetObject", f"arn:aws:s3:::{bucket}/monitoring/churn/reference.csv")
    for other in ("artifacts/2/models/m-0000000000000000/artifacts/MLmodel", "mlflow/secret-run/artifacts/x",
                  f"{paths[0]}-sibling/MLmodel"):
        assert not iam_eval.allows(docs, "s3:GetObject", f"arn:aws:s3:::{bucket}/{other}"), other
    # KServe v0.20.0's storage initializer sends HeadBucket (s3:ListBucket, no s3:prefix) before listing the path.
    assert iam_eval.allows(docs, "s3:ListBucket", f"arn:aws:s3:::{bucket}")


def test_the_service_account_the_predictor_runs_as_is_the_irsa_one(prod_plan: Inventory) -> None:
    sa = [r for r in prod_plan.of_type("kubernetes:core/v1:ServiceAccount") if r.name.startswith("mlops-prod-serving")]
    (sa,) = sa
    predictor = _isvc(prod_plan, "churn")["spec"]["predictor"]
    assert predictor["serviceAccountName"] == sa.inputs["metadata"]["name"]
    assert sa.inputs["metadata"]["namespace"] == _isvc(prod_plan, "churn")["metadata"]["namespace"]
    assert "eks.amazonaws.com/role-arn" in sa.inputs["metadata"]["annotations"]


def test_each_model_names_a_runtime_that_supports_its_format(prod_plan: Inventory) -> None:
    runtimes = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in prod_plan.of_type(RUNTIME)}
    assert {rt.name for rt in RUNTIME_OF.values()} <= set(runtimes)
    for isvc in each(prod_plan.of_type(ISVC)):
        spec = isvc.inputs["spec"]
        models = [spec["predictor"]["model"], *(c["predictor"]["model"] for c in spec.get("canary", []))]
        for model in models:
            formats = {f["name"] for f in runtimes[model["runtime"]]["supportedModelFormats"]}
            assert model["modelFormat"]["name"] in formats


def test_dev_serves_nothing(dev_plan: Inventory) -> None:
    assert not dev_plan.of_type(ISVC) and not _serving(dev_plan, RELEASE)


def test_crds_and_cert_manager_come_before_what_uses_them(prod_plan: Inventory) -> None:
    by_urn = prod_plan.by_urn()
    releases = {r.inputs["chart"].rsplit("/", 1)[-1]: r for r in _serving(prod_plan, RELEASE)}
    assert set(releases) == {"cert-manager", "kserve-crd", "kserve-resources"}
    assert {releases["cert-manager"].urn, releases["kserve-crd"].urn} <= set(releases["kserve-resources"].dependencies)
    for rt in each(prod_plan.of_type(RUNTIME)):
        assert releases["kserve-resources"].urn in rt.dependencies
    for isvc in each(prod_plan.of_type(ISVC)):
        deps = {by_urn[u].type for u in isvc.dependencies if u in by_urn}
        assert RUNTIME in deps


def test_prometheus_scrapes_exactly_the_models_predictor_pods(prod_plan: Inventory) -> None:
    (pm,) = [r for r in prod_plan.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
             if r.inputs["metadata"]["name"] == "churn"]
    labels = pm.inputs["spec"]["selector"]["matchLabels"]
    # KServe v0.20.0 predictor.go labels the predictor pods with these two.
    assert labels == {"serving.kserve.io/inferenceservice": "churn", "component": "predictor"}
    (endpoint,) = pm.inputs["spec"]["podMetricsEndpoints"]
    runtime = next(r.inputs["spec"] for r in prod_plan.of_type(RUNTIME) if r.inputs["metadata"]["name"] ==
                   _isvc(prod_plan, "churn")["spec"]["predictor"]["model"]["runtime"])
    ports = {p["name"]: p["containerPort"] for p in runtime["containers"][0]["ports"]}
    assert endpoint["port"] in ports
    assert runtime["annotations"]["prometheus.kserve.io/port"] == str(ports[endpoint["port"]])


def test_models_are_private_by_default(prod_plan: Inventory) -> None:
    assert not [r for r in prod_plan.of_type("kubernetes:networking.k8s.io/v1:Ingress") if "-serving-" in r.name]
    (netpol,) = [r for r in prod_plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                 if r.name.startswith("mlops-prod-serving")]
    sources = [peer for rule in netpol.inputs["spec"]["ingress"] for peer in rule["from"]]
    assert not [p for p in sources if "ipBlock" in p]


def test_the_monitor_job_reads_its_inputs_with_the_read_only_role(prod_plan: Inventory) -> None:
    (job,) = [r for r in prod_plan.of_type("kubernetes:batch/v1:CronJob") if r.name.endswith("-serving-monitor-churn")]
    pod = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    source = {e["name"]: e["value"] for e in fetch["env"]}["INPUTS"]  # what the fetch script copies from
    assert source == f"s3://{_artifact_bucket(prod_plan)}/monitoring/churn/"
    assert '"$INPUTS"' in fetch["command"][-1]
    (sa,) = [r for r in prod_plan.of_type("kubernetes:core/v1:ServiceAccount") if r.name.startswith("mlops-prod-serving")]
    assert pod["serviceAccountName"] == sa.inputs["metadata"]["name"]
    docs = _role_docs(prod_plan, "mlops-prod-serving-model-server")
    bucket = _artifact_bucket(prod_plan)
    assert iam_eval.allows(docs, "s3:GetObject", f"arn:aws:s3:::{bucket}/monitoring/churn/reference.csv")
    assert iam_eval.allows(docs, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
    mounts = {m["name"] for m in fetch["volumeMounts"]} & {m["name"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts == {"inputs"}, "the job reads what the init container copied"


def test_each_runtime_is_ready_only_when_its_model_answers(prod_plan: Inventory) -> None:
    """KServe adds a TCP probe on 8080 when a runtime sets none, and both servers open 8080 before the model loads: each
    runtime's container probes the path that answers 200 only once the model is loaded, with KServe's `{{.Name}}`
    filled in by the InferenceService's name (ReplacePlaceholders templates the whole container)."""
    from mlops_infra.serving.runtimes import HTTP_PORT, health_path
    runtimes = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in prod_plan.of_type(RUNTIME)}
    isvcs = [r.inputs for r in prod_plan.of_type(ISVC)]
    assert runtimes and isvcs
    by_runtime = {rt.name: flavour for flavour, rt in RUNTIME_OF.items()}
    for isvc in isvcs:
        model = isvc["spec"]["predictor"]["model"]
        (container,) = runtimes[model["runtime"]]["containers"]
        probe = json.loads(json.dumps(container["readinessProbe"]).replace("{{.Name}}", isvc["metadata"]["name"]))
        flavour = by_runtime.get(model["runtime"], "tensorflow")
        assert probe["httpGet"] == {"path": health_path(flavour, isvc["metadata"]["name"]), "port": HTTP_PORT}
