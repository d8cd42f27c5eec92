"""Serving policies: each fails on a bad resource and passes the good one."""

from __future__ import annotations

import json
from typing import Any

from mlops_infra.compute.gpu_config import TaintConfig
from mlops_infra.serving import manifests
from mlops_infra.serving.config import ExposureConfig, RuntimesConfig, ServedModelConfig
from mlops_infra.serving.runtimes import serving_runtime_spec

from .cases import Case, check, params
from .helpers import R, messages

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime"
MODEL = {"name": "churn", "flavour": "mlflow", "artifactPath": "artifacts/1/models/m/artifacts"}
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


def isvc(**model: Any) -> dict[str, Any]:
    m = ServedModelConfig.model_validate({**MODEL, **model})
    taint = TaintConfig(key="mlops.io/inference") if m.gpu_pool else None
    return manifests.inference_service(m, bucket="b", namespace="serving", service_account="model-server",
                                       gpu_taint=taint)


def ingress(*, canary: bool = False, **exposure: Any) -> R:
    exp = ExposureConfig.model_validate({"host": "m.example.com", "certificateArn": CERT, **exposure})
    m = ServedModelConfig.model_validate(
        {**MODEL, **({"canary": {"artifactPath": "artifacts/1/models/n/artifacts"}} if canary else {})})
    return R("kubernetes:networking.k8s.io/v1:Ingress", "models",
             {"metadata": {"name": "models", "annotations": manifests.ingress_annotations(exp, m, "serving-models")},
              "spec": manifests.ingress_spec(exp, m)})


def test_a_public_model_endpoint_needs_waf_or_auth() -> None:
    bad = ingress(mode="internalAlb")
    bad.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] = "internet-facing"
    assert messages("mlops-serving-public-auth", bad) == [
        "models: internet-facing model endpoint without a WAF web ACL or ALB authentication"]
    waf = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/m/1"
    assert messages("mlops-serving-public-auth", ingress(mode="public", wafAclArn=waf)) == []
    assert messages("mlops-serving-public-auth", ingress(mode="internalAlb")) == []


def test_runtime_images_are_pinned_by_digest_in_prod() -> None:
    tagged = R(RUNTIME, "rt", {"metadata": {"name": "rt"}, "spec": serving_runtime_spec("mlflow", RuntimesConfig())})
    assert messages("mlops-serving-image-digest", tagged)
    assert messages("mlops-serving-image-digest", tagged, env="staging") == []
    digest = "docker.io/seldonio/mlserver@sha256:" + "a" * 64
    pinned = R(RUNTIME, "rt", {"metadata": {"name": "rt"},
                               "spec": serving_runtime_spec("mlflow", RuntimesConfig(mlserver_image=digest))})
    assert messages("mlops-serving-image-digest", pinned) == []


def test_every_predictor_sets_limits() -> None:
    good = isvc(canary={"artifactPath": "artifacts/1/models/n/artifacts"})
    assert messages("mlops-serving-resource-limits", R(ISVC, "churn", good)) == []
    del good["spec"]["canary"][0]["predictor"]["model"]["resources"]["limits"]["memory"]
    assert messages("mlops-serving-resource-limits", R(ISVC, "churn", good)) == [
        "churn: predictor canary has no memory limit"]


def test_a_gpu_predictor_tolerates_only_inference_taints() -> None:
    good = isvc(gpus=1, gpuPool="infer")
    assert messages("mlops-serving-gpu-tolerations", R(ISVC, "churn", good)) == []
    good["spec"]["predictor"]["tolerations"].append({"key": "nvidia.com/gpu", "operator": "Exists"})
    assert messages("mlops-serving-gpu-tolerations", R(ISVC, "churn", good)) == [
        "churn: GPU predictor tolerates nvidia.com/gpu, not an inference taint (mlops.io/inference)"]
    good["spec"]["predictor"]["tolerations"] = [{"operator": "Exists"}]
    assert messages("mlops-serving-gpu-tolerations", R(ISVC, "churn", good)) == [
        "churn: GPU predictor tolerates every taint (toleration without a key)"]


def _stack(actions: list[str]) -> list[R]:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": ["*"]}]}
    return [
        R("aws:iam/role:Role", "model-server-role", {"assumeRolePolicy": "{}"}),
        R("aws:iam/rolePolicy:RolePolicy", "model-server-policy", {"role": "model-server-role-id",
                                                                   "policy": json.dumps(policy)},
          deps={"role": ["model-server-role"]}),
        R("kubernetes:core/v1:ServiceAccount", "model-server-sa",
          {"metadata": {"name": "model-server", "namespace": "serving",
                        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}}},
          deps={"metadata": ["model-server-role"]}),
        R(ISVC, "churn", isvc()),
    ]


def test_the_predictors_role_is_read_only_on_artifacts() -> None:
    assert messages("mlops-serving-artifacts-read-only", _stack(["s3:GetObject", "kms:Decrypt"])) == []
    assert messages("mlops-serving-artifacts-read-only", _stack(["s3:GetObject", "s3:PutObject"])) == [
        "churn: its role model-server-role allows s3:PutObject (model-server-policy)"]
    assert messages("mlops-serving-artifacts-read-only", _stack(["s3:*"]))


def _bad_ingress(canary: bool = False) -> R:
    bad = ingress(mode="internalAlb", canary=canary)
    bad.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] = "internet-facing"
    return bad


def _runtime(image: str | None = None) -> R:
    images = RuntimesConfig(mlserver_image=image) if image else RuntimesConfig()
    return R(RUNTIME, "rt", {"metadata": {"name": "rt"}, "spec": serving_runtime_spec("mlflow", images)})


def _no_limits() -> R:
    body = isvc()
    del body["spec"]["predictor"]["model"]["resources"]["limits"]
    return R(ISVC, "churn", body)


def _training_toleration() -> R:
    body = isvc(gpus=1, gpuPool="infer")
    body["spec"]["predictor"]["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    return R(ISVC, "churn", body)


def _kserve_config(s3: dict[str, str]) -> R:
    """The ConfigMap kserve-resources v0.20.0 renders (templates/configmap.yaml: `credentials` from storage.s3)."""
    credentials = {"storageSpecSecretName": "storage-config", "s3": {"s3AccessKeyIDName": "AWS_ACCESS_KEY_ID", **s3}}
    return R("kubernetes:core/v1:ConfigMap", "inferenceservice-config", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inferenceservice-config", "namespace": "kserve"},
        "data": {"credentials": json.dumps(credentials)}})


def _predictor_sa(extra: dict[str, str]) -> list[R]:
    """A predictor and the IRSA ServiceAccount it runs as (with `extra` annotations)."""
    sa = R("kubernetes:core/v1:ServiceAccount", "model-server", {"metadata": {
        "name": "model-server", "namespace": "serving",
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ms", **extra}}})
    return [sa, R(ISVC, "churn", isvc())]


CASES: list[Case] = [
    Case("region-only", "mlops-serving-kserve-s3-endpoint-override",
         [_kserve_config({"s3Endpoint": "", "s3Region": "us-east-1"})], []),
    Case("endpoint-set", "mlops-serving-kserve-s3-endpoint-override",
         [_kserve_config({"s3Endpoint": "s3.us-east-1.amazonaws.com", "s3Region": "us-east-1"})],
         ["inferenceservice-config: credentials.s3.s3Endpoint is 's3.us-east-1.amazonaws.com': KServe sets "
          "AWS_ENDPOINT_URL on every storage initializer, so its IRSA STS call goes to that endpoint and model "
          "downloads fail"]),
    Case("irsa-region-only", "mlops-serving-kserve-s3-endpoint-override", _predictor_sa({}), []),
    Case("irsa-endpoint-annotation", "mlops-serving-kserve-s3-endpoint-override",
         _predictor_sa({"serving.kserve.io/s3-endpoint": "s3.us-east-1.amazonaws.com"}),
         ["model-server: annotation serving.kserve.io/s3-endpoint is 's3.us-east-1.amazonaws.com' on an IRSA "
          "ServiceAccount a predictor runs as: KServe sets AWS_ENDPOINT_URL on its storage initializers, so their "
          "STS call goes to that endpoint and model downloads fail"]),
    Case("open-canary", "mlops-serving-public-auth", [_bad_ingress(canary=True)],
         ["models: internet-facing model endpoint without a WAF web ACL or ALB authentication"]),
    Case("waf", "mlops-serving-public-auth", [ingress(
        mode="public", wafAclArn="arn:aws:wafv2:us-east-1:123456789012:regional/webacl/m/1")], []),
    Case("open", "mlops-serving-public-auth", [_bad_ingress()],
         ["models: internet-facing model endpoint without a WAF web ACL or ALB authentication"]),
    Case("digest", "mlops-serving-image-digest", [_runtime("docker.io/seldonio/mlserver@sha256:" + "a" * 64)], []),
    Case("tag", "mlops-serving-image-digest", [_runtime()],
         ["rt: container kserve-container: image docker.io/seldonio/mlserver:1.7.1 is not pinned by digest"]),
    Case("limits", "mlops-serving-resource-limits", [R(ISVC, "churn", isvc())], []),
    Case("no-limits", "mlops-serving-resource-limits", [_no_limits()],
         ["churn: predictor default has no cpu or memory limit"]),
    Case("inference-taint", "mlops-serving-gpu-tolerations", [R(ISVC, "churn", isvc(gpus=1, gpuPool="infer"))], []),
    Case("training-taint", "mlops-serving-gpu-tolerations", [_training_toleration()],
         ["churn: GPU predictor tolerates nvidia.com/gpu, not an inference taint (mlops.io/inference)"]),
    Case("read-only", "mlops-serving-artifacts-read-only", _stack(["s3:GetObject", "kms:Decrypt"]), []),
    Case("writes", "mlops-serving-artifacts-read-only", _stack(["s3:PutObject"]),
         ["churn: its role model-server-role allows s3:PutObject (model-server-policy)"]),
]


@params(CASES)
def test_case(case: Case) -> None:
    check(case)
