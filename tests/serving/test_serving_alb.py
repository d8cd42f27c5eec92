"""ModelServing behind an ALB (tests/programs/serving_canary, planned): the canary's weighted split, TF Serving's
paths and health check, the GPU image, and the rules that read what KServe really runs."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from mlops_infra.plan import Inventory
from mlops_infra.serving import manifests, rules
from mlops_infra.serving.config import ServingConfig
from mlops_infra.serving.runtimes import TFSERVING_GPU
from tests import iam_eval
from tests.conftest import PROGRAMS, planned

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return planned("test", PROGRAMS / "serving_canary")


def _named(inv: Inventory, typ: str, name: str) -> dict[str, Any]:
    (rec,) = [r for r in inv.of_type(typ) if r.inputs["metadata"]["name"] == name]
    return rec.inputs


def _alb_patterns(path: str, kind: str) -> list[str]:
    """aws-load-balancer-controller v3.5.0 model_build_listener_rules.go: Prefix -> [p, p/*], ImplementationSpecific
    -> [p] (ALB wildcard pattern)."""
    return [path.rstrip("/"), path.rstrip("/") + "/*"] if kind == "Prefix" else [path]


def _routes(ingress: dict[str, Any], url_path: str) -> bool:
    """Whether an ALB path pattern of the Ingress matches `url_path` (`*`: any characters, `?`: one)."""
    return any(fnmatch.fnmatchcase(url_path, pattern) for rule in ingress["spec"]["rules"]
               for p in rule["http"]["paths"] for pattern in _alb_patterns(p["path"], p["pathType"]))


def test_the_canary_service_is_a_weighted_backend_and_the_weights_sum_to_100(inv: Inventory) -> None:
    isvc = _named(inv, ISVC, "churn")
    (canary,) = isvc["spec"]["canary"]
    # KServe v0.20.0 names the canary's Deployment and Service PredictorServiceName(isvc, canary predictor name).
    canary_svc = f"churn-{canary['predictor']['name']}-predictor"
    ingress = _named(inv, INGRESS, "churn")
    backends = [p["backend"]["service"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert backends and all(b["port"] == {"name": "use-annotation"} for b in backends)
    (action_name,) = {b["name"] for b in backends}
    action = json.loads(ingress["metadata"]["annotations"][f"alb.ingress.kubernetes.io/actions.{action_name}"])
    assert action["type"] == "forward"
    weights = {g["serviceName"]: g["weight"] for g in action["forwardConfig"]["targetGroups"]}
    assert weights == {"churn-predictor": 100 - canary["trafficPercent"], canary_svc: canary["trafficPercent"]}
    assert sum(weights.values()) == 100 and weights[canary_svc] == 10


def test_each_model_has_its_runtimes_health_check_on_one_alb(inv: Inventory) -> None:
    ingresses = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["annotations"] for r in inv.of_type(INGRESS)}
    assert set(ingresses) == {"churn", "ranker"}
    assert len({a["alb.ingress.kubernetes.io/group.name"] for a in ingresses.values()}) == 1
    assert ingresses["churn"]["alb.ingress.kubernetes.io/healthcheck-path"] == "/v2/health/ready"  # MLServer
    assert ingresses["ranker"]["alb.ingress.kubernetes.io/healthcheck-path"] == "/v1/models/ranker"  # TF Serving


@pytest.mark.parametrize(("url_path", "routed"), [
    ("/v1/models/ranker:predict", True), ("/v1/models/ranker/versions/3:predict", True),
    ("/v1/models/ranker/metadata", True), ("/v1/models/ranker", True),
    ("/v1/models/rankerx:predict", False), ("/v2/models/ranker/infer", False)])
def test_tf_serving_verbs_reach_the_model(inv: Inventory, url_path: str, routed: bool) -> None:
    assert _routes(_named(inv, INGRESS, "ranker"), url_path) is routed


def test_a_gpu_tf_model_runs_the_cuda_image(inv: Inventory) -> None:
    model = _named(inv, ISVC, "ranker")["spec"]["predictor"]["model"]
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "1"
    runtime = _named(inv, RUNTIME, model["runtime"])["spec"]
    assert model["runtime"] == TFSERVING_GPU.name
    assert runtime["containers"][0]["image"].split("@")[0].endswith("-gpu")
    assert not _named(inv, RUNTIME, "tfserving")["spec"]["containers"][0]["image"].endswith("-gpu")


def _cfg() -> ServingConfig:
    return ServingConfig.model_validate({
        "enabled": True, "exposure": {"mode": "internalAlb", "host": "m.example.com",
                                      "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"},
        "models": [{"name": "churn", "flavour": "mlflow", "artifactPath": "a/1", "minReplicas": 2,
                    "canary": {"artifactPath": "a/2", "trafficPercent": 10}},
                   {"name": "ranker", "flavour": "tensorflow", "artifactPath": "a/3", "minReplicas": 3}]})


def _rule(groups: list[dict[str, Any]], model: str, alert: str) -> dict[str, Any]:
    (rule,) = [r for g in groups if g["name"] == f"serving-{model}" for r in g["rules"] if r["alert"] == alert]
    return rule


def test_replica_shortfall_counts_what_kserve_keeps_on_both_deployments() -> None:
    cfg = _cfg()
    groups = rules.rule_groups(cfg, "serving")
    expr = _rule(groups, "churn", "ModelReplicaShortfall")["expr"]
    # KServe v0.20.0: canary ceil(2 x 10%) = 1 replica, the stable HPA floor max(2 - 1, 1) = 1: together 2.
    assert manifests.kserve_replica_floors(cfg.models[0]) == (1, 1)
    assert expr.endswith("< 2")
    regex = re.search(r'deployment=~"([^"]+)"', expr)
    assert regex
    for deployment in (manifests.predictor_service("churn"), manifests.canary_service("churn")):
        assert re.fullmatch(regex.group(1), deployment), deployment
    assert _rule(groups, "ranker", "ModelReplicaShortfall")["expr"].endswith("< 3")


@pytest.mark.parametrize(("status", "spends"), [
    ("INTERNAL", True), ("UNAVAILABLE", True), ("DEADLINE_EXCEEDED", True),
    ("INVALID_ARGUMENT", False), ("NOT_FOUND", False), ("FAILED_PRECONDITION", False), ("OK", False)])
def test_tf_serving_error_budget_counts_only_server_errors(status: str, spends: bool) -> None:
    matcher = re.search(r'status=~"([^"]+)"', rules.RUNTIME_METRICS["tensorflow"].error_filter)
    assert matcher
    assert bool(re.fullmatch(matcher.group(1), status)) is spends


def test_serving_adds_no_drift_alert_the_platform_already_has() -> None:
    from mlops_infra.observability.monitoring_rules import DRIFT_METRIC, PREDICTION_DRIFT_METRIC
    alerts = [r for g in rules.rule_groups(_cfg(), "serving") for r in g["rules"]]
    assert alerts
    for rule in alerts:
        if "absent(" in rule["expr"]:
            continue  # the job's health reads every contract metric, by design
        assert DRIFT_METRIC not in rule["expr"] and PREDICTION_DRIFT_METRIC not in rule["expr"], rule["alert"]


def test_the_serving_namespace_gets_the_alb_readiness_gate(inv: Inventory) -> None:
    """target-type ip: the controller injects the gate only in namespaces labelled for it; without it a rollout stops
    old pods before the ALB registered the new ones."""
    from mlops_infra.serving.model_serving import READINESS_GATE_LABEL
    ingresses = inv.of_type(INGRESS)
    assert ingresses and all(i.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/target-type"] == "ip"
                             for i in ingresses)
    namespace = ingresses[0].inputs["metadata"]["namespace"]
    (ns,) = [r for r in inv.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == namespace]
    assert ns.inputs["metadata"]["labels"][READINESS_GATE_LABEL] == "enabled"


def test_a_private_serving_namespace_has_no_readiness_gate(prod_plan: Inventory) -> None:
    from mlops_infra.serving.model_serving import READINESS_GATE_LABEL
    assert not [r for r in prod_plan.of_type(INGRESS) if "-serving-" in r.name]  # prod serves privately
    nss = [r for r in prod_plan.of_type("kubernetes:core/v1:Namespace") if r.name.endswith("-serving-ns")]
    assert nss
    assert all(READINESS_GATE_LABEL not in r.inputs["metadata"]["labels"] for r in nss)


def test_the_monitor_jobs_inputs_have_a_writer(inv: Inventory) -> None:
    """The job reads `<monitoringPrefix>/<model>/` (its init container's INPUTS): a role given
    grant_monitoring_write can PutObject (and encrypt) there, and nowhere else in the artifact bucket."""
    policies = {r.urn.split("::")[-1]: r for r in inv.of_type("aws:iam/policy:Policy")}
    attached = [r for r in inv.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r.name.endswith("monitoring-write-prediction-logger")]
    assert len(attached) == 1
    (doc,) = [json.loads(p.inputs["policy"]) for n, p in policies.items() if n.endswith("monitoring-write-policy")]
    crons = [r for r in inv.of_type("kubernetes:batch/v1:CronJob")]
    assert crons
    for cron in crons:
        (fetch,) = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"]
        inputs = {e["name"]: e["value"] for e in fetch["env"]}["INPUTS"]
        key = inputs.removeprefix("s3://") + "predictions/2026-12-06/a.csv"
        assert iam_eval.allows([doc], "s3:PutObject", f"arn:aws:s3:::{key}"), key
    assert not iam_eval.allows([doc], "s3:PutObject", "arn:aws:s3:::prod-artifacts/artifacts/1/models/m/MLmodel")
    assert iam_eval.allows([doc], "kms:GenerateDataKey", "arn:aws:kms:us-east-1:123456789012:key/"
                           "11111111-2222-3333-4444-555555555555")
