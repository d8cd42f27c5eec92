"""Serving config: problems with their paths, exposure rules, and the GPU taint/toleration pair."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.compute.gpu_config import POOL_LABEL, GpuPoolConfig
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.serving import manifests
from mlops_infra.serving.config import ServedModelConfig, ServingConfig
from tests.conftest import PROD_API_ACCESS

MODEL = {"name": "churn", "flavour": "mlflow", "artifactPath": "artifacts/1/models/m-1/artifacts"}
TAGS = {"owner": "ml", "costCenter": "cc-1"}
INFERENCE_POOL = {"name": "infer-l4", "instanceTypes": ["g6.xlarge"], "maxSize": 2,
                  "taint": {"key": "mlops.io/inference", "value": "true", "effect": "NO_SCHEDULE"}}
TRAINING_POOL = {"name": "train", "instanceTypes": ["g6.xlarge"], "maxSize": 2}


def platform(environment: str = "staging", serving: dict[str, Any] | None = None,
             pools: list[dict[str, Any]] | None = None, **cluster: Any) -> PlatformConfig:
    return PlatformConfig.model_validate({
        "environment": environment, "tags": TAGS, "cluster": {**PROD_API_ACCESS, **cluster}, "gpuPools": pools or [],
        "serving": {"enabled": True, "models": [MODEL], **(serving or {})}})


def problems(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value)


def test_serving_is_off_by_default_and_needs_a_model_when_on() -> None:
    assert not PlatformConfig.model_validate({"environment": "dev", "tags": TAGS, "cluster": PROD_API_ACCESS}).serving.enabled
    with pytest.raises(ValidationError, match="at least one model"):
        ServingConfig.model_validate({"enabled": True})


@pytest.mark.parametrize("path", ["/artifacts/m", "s3://bucket/m", "artifacts/../secrets", "artifacts/m/"])
def test_an_artifact_path_is_a_key_prefix_inside_the_bucket(path: str) -> None:
    with pytest.raises(ValidationError):
        ServedModelConfig.model_validate({**MODEL, "artifactPath": path})


def test_a_registered_model_uri_is_recorded_not_resolved() -> None:
    m = ServedModelConfig.model_validate({**MODEL, "registeredModel": "models:/churn/3"})
    isvc = manifests.inference_service(m, bucket="b", namespace="serving", service_account="sa")
    assert isvc["metadata"]["annotations"][manifests.REGISTERED_MODEL_ANNOTATION] == "models:/churn/3"
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == "s3://b/artifacts/1/models/m-1/artifacts"
    with pytest.raises(ValidationError):
        ServedModelConfig.model_validate({**MODEL, "registeredModel": "models:/churn/latest"})


def test_public_endpoints_are_prod_only_and_need_waf_or_auth() -> None:
    public = {"mode": "public", "host": "models.example.com",
              "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}
    with pytest.raises(ValidationError, match="wafAclArn or oidc"):
        ServingConfig.model_validate({"enabled": True, "models": [MODEL], "exposure": public})
    waf = {**public, "wafAclArn": "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/models/1"}
    with pytest.raises(ValidationError, match="prod only"):
        platform("staging", {"exposure": waf}, loadBalancerController=True)
    cfg = platform("prod", {"exposure": waf}, loadBalancerController=True)
    ann = manifests.ingress_annotations(cfg.serving.exposure, cfg.serving.models[0], "serving-models")
    assert ann["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert ann["alb.ingress.kubernetes.io/wafv2-acl-arn"] == waf["wafAclArn"]


def test_an_ingress_needs_the_load_balancer_controller_and_tls() -> None:
    internal = {"mode": "internalAlb", "host": "models.internal.example.com"}
    with pytest.raises(ValidationError, match="TLS is mandatory"):
        ServingConfig.model_validate({"enabled": True, "models": [MODEL], "exposure": internal})
    internal["certificateArn"] = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    with pytest.raises(ValidationError, match="Load Balancer Controller"):
        platform("staging", {"exposure": internal}, loadBalancerController=False)


def test_a_gpu_model_needs_a_pool_with_a_taint_of_its_own() -> None:
    gpu_model = {**MODEL, "gpus": 1, "gpuPool": "train"}
    with pytest.raises(ValidationError, match="taint of its own"):
        platform(serving={"models": [gpu_model]}, pools=[TRAINING_POOL, {**TRAINING_POOL, "name": "train2"}])
    with pytest.raises(ValidationError, match="unknown GPU pool"):
        platform(serving={"models": [{**gpu_model, "gpuPool": "nope"}]}, pools=[TRAINING_POOL])
    with pytest.raises(ValidationError, match="required when gpus > 0"):
        ServedModelConfig.model_validate({**MODEL, "gpus": 1})
    platform(serving={"models": [{**gpu_model, "gpuPool": "infer-l4"}]}, pools=[TRAINING_POOL, INFERENCE_POOL])


def test_gpu_inference_pods_tolerate_exactly_their_pools_taint() -> None:
    pool = GpuPoolConfig.model_validate(INFERENCE_POOL)
    m = ServedModelConfig.model_validate({**MODEL, "gpus": 1, "gpuPool": pool.name})
    predictor = manifests.inference_service(m, bucket="b", namespace="serving", service_account="sa",
                                            gpu_taint=pool.taint)["spec"]["predictor"]
    assert pool.taint is not None
    assert predictor["tolerations"] == [{"key": pool.taint.key, "operator": "Equal", "value": pool.taint.value,
                                         "effect": pool.taint.k8s_effect}]
    assert predictor["nodeSelector"] == {POOL_LABEL: pool.name}
    assert pool.node_labels[POOL_LABEL] == pool.name  # the nodes carry the label the pods select
    assert predictor["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    cpu = manifests.inference_service(ServedModelConfig.model_validate(MODEL), bucket="b", namespace="serving",
                                      service_account="sa")["spec"]["predictor"]
    assert "tolerations" not in cpu and "nodeSelector" not in cpu


def test_a_canary_serves_another_version() -> None:
    with pytest.raises(ValidationError, match="different version"):
        ServedModelConfig.model_validate({**MODEL, "canary": {"artifactPath": MODEL["artifactPath"]}})


def test_a_canary_needs_the_alb_that_splits_the_traffic() -> None:
    canary = {**MODEL, "canary": {"artifactPath": "artifacts/1/models/n/artifacts"}}
    with pytest.raises(ValidationError, match="needs exposure internalAlb or public"):
        ServingConfig.model_validate({"enabled": True, "models": [canary]})
    internal = {"mode": "internalAlb", "host": "m.internal.example.com",
                "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}
    assert ServingConfig.model_validate({"enabled": True, "models": [canary], "exposure": internal}).models[0].canary


def test_the_require_digest_docs_match_what_the_profiles_set() -> None:
    """The description said "profile: prod true" while no profile set it: the documented default per environment is
    what a profiled config really gets (false everywhere: the default images are tags, their digests unknown here)."""
    from mlops_infra.config.environments import PROFILES, apply_profile
    from mlops_infra.serving.config import RuntimesConfig
    description = RuntimesConfig.model_fields["require_digest"].description or ""
    assert "in every environment" in description and "profile:" not in description
    assert PROFILES
    for env in PROFILES:
        raw = apply_profile({"environment": env, "serving": {"enabled": True, "models": [MODEL]}})
        assert "requireDigest" not in raw.get("serving", {}).get("runtimes", {}), env


CANARY = {"artifactPath": "artifacts/1/models/m-2/artifacts"}


@pytest.mark.parametrize("name", ["7churn", "0"])
def test_a_model_name_kserve_refuses_is_refused_here(name: str) -> None:
    """KServe v0.20.0's webhook: `[a-z]([-a-z0-9]*[a-z0-9])?` (a K8sName may start with a digit)."""
    with pytest.raises(ValidationError, match=r"\[a-z\]\(\[-a-z0-9\]\*\[a-z0-9\]\)\?"):
        ServedModelConfig.model_validate({**MODEL, "name": name})


@pytest.mark.parametrize("canary", [False, True])
def test_the_longest_name_keeps_kserves_predictor_label_within_63_characters(canary: bool) -> None:
    extra = {"canary": CANARY} if canary else {}
    deployment = "{}-canary-predictor" if canary else "{}-predictor"
    longest = next(n for n in range(63, 0, -1) if len("isvc." + deployment.format("m" * n)) <= 63)
    ServedModelConfig.model_validate({**MODEL, "name": "m" * longest, **extra})
    with pytest.raises(ValidationError, match=rf"at most {longest} characters.*`app: isvc\.m+-"):
        ServedModelConfig.model_validate({**MODEL, "name": "m" * (longest + 1), **extra})
    # every object KServe names after the model fits too (Deployment/Service `<name>[-canary]-predictor`)
    assert len(deployment.format("m" * longest)) <= 63


def test_two_models_must_differ_within_the_characters_their_dashboards_keep() -> None:
    # `serving-<name>` cut to Grafana's 40-character uid names each model's dashboard ConfigMap: two models that
    # share their first 32 characters would plan a duplicate URN (review R10SERVE).
    base = "customer-churn-prediction-gradient-boost"
    models = [{**MODEL, "name": f"{base}-v1"}, {**MODEL, "name": f"{base}-v2", "artifactPath": CANARY["artifactPath"]}]
    with pytest.raises(ValidationError, match=r"share their first 32 characters"):
        ServingConfig.model_validate({"enabled": True, "models": models})
    distinct = [{**models[0], "name": "a" + base}, models[1]]
    assert ServingConfig.model_validate({"enabled": True, "models": distinct}).models[0].name == "a" + base
