"""Model serving config: KServe (Standard, i.e. RawDeployment, mode) serving models from the registry's artifact bucket.

Pins read at the tags named (Nov 2026):
- KServe v0.20.0 (kserve/kserve): charts `kserve-crd` and `kserve-resources` (`oci://ghcr.io/kserve/charts/...`,
  charts/kserve-resources/README.md). Its webhooks need cert-manager at that version: files/kserve/resources.yaml
  holds a cert-manager `Certificate` and `cert-manager.io/inject-ca-from` on every webhook configuration.
- cert-manager v1.21.1 (cert-manager/cert-manager, deploy/charts/cert-manager; repo charts.jetstack.io).
- MLServer 1.7.1: the image KServe v0.20.0's own `kserve-mlserver` runtime pins (kserve-runtime-configs), which
  ships the MLflow runtime (`mlserver_mlflow.MLflowRuntime`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, StringConstraints

from ..config.base import ConfigModel, Problem, engine_discriminator, engine_tag
from ..config.types import AcmCertificateArn, ChartVersion, ImageRef, K8sName

KSERVE_VERSION = "v0.20.0"
CERT_MANAGER_VERSION = "v1.21.1"
Flavour = Literal["mlflow", "tensorflow"]
"""The model's format: `mlflow` (an MLflow model directory, any pyfunc flavour) or `tensorflow` (a SavedModel
base path with numbered version directories)."""


def _artifact_path(value: str) -> str:
    if value.startswith(("/", "s3://")) or value.endswith("/") or ".." in value.split("/"):
        raise ValueError(f"a key prefix inside the artifact bucket: no scheme, no leading or trailing slash, no `..` "
                         f"(got {value!r})")
    return value


# A key prefix inside the artifact bucket.
ArtifactPath = Annotated[str, StringConstraints(pattern=r"^[\w.=+@/-]+$", max_length=900),
                         AfterValidator(_artifact_path)]
RegisteredModelUri = Annotated[str, StringConstraints(pattern=r"^models:/[\w.-]+/\d+$")]
WafAclArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/.+$")]
ColumnName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")]
"""A CSV column of the monitoring inputs (no comma: the job receives the list comma-joined)."""
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
ISVC_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
"""KServe v0.20.0's InferenceService name (pkg/apis/serving/v1beta1/inference_service_validation.go IsvcNameFmt):
its validating webhook refuses any other."""
LABEL_VALUE_LIMIT = 63
"""Kubernetes label values and Service names (DNS-1035 labels): at most 63 characters."""
_STABLE_PREDICTOR_LABEL = len("isvc.") + len("-predictor")
_CANARY_PREDICTOR_LABEL = len("isvc.") + len("-canary-predictor")
MAX_MODEL_NAME = LABEL_VALUE_LIMIT - _STABLE_PREDICTOR_LABEL
"""48: KServe labels the predictor pods `app: isvc.<name>-predictor` (GetRawServiceLabel of the Deployment name),
a label value; longer, the Deployment is refused and the InferenceService never becomes ready."""
MAX_CANARY_MODEL_NAME = LABEL_VALUE_LIMIT - _CANARY_PREDICTOR_LABEL
"""41: with a canary, `app: isvc.<name>-canary-predictor` (the canary predictor is named `canary`)."""


def pinned_by_digest(image: str) -> bool:
    return bool(re.search(r"@sha256:[a-f0-9]{64}$", image))


class RuntimesConfig(ConfigModel):
    """The ServingRuntimes the component creates in the serving namespace (one per flavour)."""

    # tensorflow/serving 2.19.0 (Docker Hub tag); KServe's own runtime still pins 2.6.2.
    tfserving_image: ImageRef = Field("docker.io/tensorflow/serving:2.19.0",
                                      description="TensorFlow Serving image. Default: docker.io/tensorflow/serving:2.19.0.")
    tfserving_gpu_image: ImageRef = Field(
        "docker.io/tensorflow/serving:2.19.0-gpu", description="TensorFlow Serving image for models with gpus > 0 "
        "(the CUDA build: the plain image runs on the CPU only). Default: docker.io/tensorflow/serving:2.19.0-gpu.")
    mlserver_image: ImageRef = Field("docker.io/seldonio/mlserver:1.7.1",
                                     description="MLServer image (ships the MLflow runtime). Default: "
                                     "docker.io/seldonio/mlserver:1.7.1.")
    # No profile turns this on: the default images are tags, and prod would need their real digests.
    require_digest: bool = Field(False, description="Images must be pinned by digest (`@sha256:`). Default: false "
                                 "in every environment (set it with digest-pinned images).")

    def problems(self) -> Iterable[Problem]:
        if self.require_digest:
            for key, image in (("tfservingImage", self.tfserving_image), ("tfservingGpuImage", self.tfserving_gpu_image),
                               ("mlserverImage", self.mlserver_image)):
                if not pinned_by_digest(image):
                    yield key, f"must be pinned by digest (requireDigest: true; got {image!r})"


class CanaryConfig(ConfigModel):
    """A candidate model version beside the stable one (KServe v0.20.0 `spec.canary`, Standard mode only)."""

    artifact_path: ArtifactPath = Field(..., description="The candidate's key prefix in the artifact bucket. Required.")
    traffic_percent: int = Field(10, ge=1, le=99, description="Share of requests for the candidate. KServe v0.20 "
                                 "Standard mode gives the canary its own Deployment and Service "
                                 "(`<model>-canary-predictor`, ceil(minReplicas x percent / 100) replicas) and splits "
                                 "nothing: the split is the ALB's (weighted target groups on the model's Ingress), so "
                                 "a canary needs exposure internalAlb or public. Default: 10.")


class ServedModelConfig(ConfigModel):
    """One served model: becomes one InferenceService."""

    name: K8sName = Field(..., description="InferenceService name (and the `model` label of its metrics): a lower-case "
                          f"letter first (KServe's rule), at most {MAX_MODEL_NAME} characters, {MAX_CANARY_MODEL_NAME} "
                          "with a canary (KServe's pod label `app: isvc.<name>[-canary]-predictor` is at most "
                          f"{LABEL_VALUE_LIMIT}). Required.")
    flavour: Flavour = Field(..., description="mlflow (served by MLServer's MLflow runtime) or tensorflow (served "
                             "by TensorFlow Serving). Required.")
    artifact_path: ArtifactPath = Field(
        ..., description="Key prefix of the model inside the registry's artifact bucket; the storage URI is "
        "`s3://<artifact bucket>/<artifactPath>`. For a registered model: the registry serves artifacts "
        "(`--serve-artifacts --artifacts-destination s3://<bucket>/artifacts`), so "
        "`MlflowClient().get_model_version_download_uri(name, version)` returns "
        "`mlflow-artifacts:/<experiment>/models/<model id>/artifacts`; the path is `artifacts/` followed by what comes "
        "after `mlflow-artifacts:/`. Required.")
    registered_model: RegisteredModelUri | None = Field(
        None, description="The `models:/<name>/<version>` this path was resolved from, recorded as an annotation "
        "(KServe cannot resolve registry URIs at deploy time). Default: none.")
    min_replicas: int = Field(1, ge=1, le=100, description="Minimum replicas (HPA floor). Default: 1.")
    max_replicas: int = Field(3, ge=1, le=100, description="Maximum replicas (HPA ceiling). Default: 3.")
    cpu_target_percent: int = Field(70, ge=10, le=100, description="HPA target CPU utilisation. Default: 70.")
    cpu: str = Field("1", description="CPU request and limit of the model server. Default: 1.")
    memory: str = Field("2Gi", description="Memory request and limit of the model server. Default: 2Gi.")
    gpus: int = Field(0, ge=0, le=8, description="GPUs per replica; needs gpuPool. Default: 0.")
    gpu_pool: K8sName | None = Field(None, description="The `gpuPools[]` pool (with its own inference taint) the "
                                     "replicas run on. Default: none (CPU nodes).")
    canary: CanaryConfig | None = Field(None, description="A candidate version taking part of the traffic. Default: none.")
    protected_attributes: list[K8sName] = Field(
        default_factory=list, description="Columns of the monitoring inputs the fairness metrics are computed over "
        "(e.g. gender); each must have at least two groups in the logged predictions. Default: none (drift only).")
    features: list[ColumnName] = Field(
        default_factory=list, description="Input features the monitoring job computes drift for (columns of the "
        "monitoring inputs; request ids and timestamps are not features). Default: none (prediction drift only).")

    def problems(self) -> Iterable[Problem]:
        if not ISVC_NAME.match(self.name):
            yield "name", (f"KServe v0.20.0 requires an InferenceService name matching {ISVC_NAME.pattern} (a lower-case "
                           f"letter first; got {self.name!r})")
        limit, label = ((MAX_CANARY_MODEL_NAME, f"isvc.{self.name}-canary-predictor") if self.canary
                        else (MAX_MODEL_NAME, f"isvc.{self.name}-predictor"))
        if len(self.name) > limit:
            yield "name", (f"at most {limit} characters{' with a canary' if self.canary else ''} (got "
                           f"{len(self.name)}): KServe labels the predictor pods `app: {label}`, and a label value "
                           f"is at most {LABEL_VALUE_LIMIT} characters")
        if self.max_replicas < self.min_replicas:
            yield "maxReplicas", f"must be >= minReplicas ({self.max_replicas} < {self.min_replicas})"
        if self.gpus and not self.gpu_pool:
            yield "gpuPool", "required when gpus > 0 (inference GPUs come from a pool with its own taint)"
        if self.gpu_pool and not self.gpus:
            yield "gpus", f"must be > 0 when gpuPool is set ({self.gpu_pool!r})"
        if self.canary and self.canary.artifact_path == self.artifact_path:
            yield "canary.artifactPath", "is the stable model's path: a canary serves a different version"


class OidcAuthConfig(ConfigModel):
    """ALB OIDC authentication (`alb.ingress.kubernetes.io/auth-type: oidc`, aws-load-balancer-controller 3.5.0)."""

    issuer: str = Field(..., pattern=r"^https://", description="OIDC issuer URL. Required.")
    authorization_endpoint: str = Field(..., pattern=r"^https://", description="Authorization endpoint. Required.")
    token_endpoint: str = Field(..., pattern=r"^https://", description="Token endpoint. Required.")
    user_info_endpoint: str = Field(..., pattern=r"^https://", description="User info endpoint. Required.")
    client_secret_name: str = Field(..., description="Secret in the serving namespace with `clientID` and "
                                    "`clientSecret` (e.g. from External Secrets). Required.")

    def problems(self) -> Iterable[Problem]:
        if not _SECRET_NAME.match(self.client_secret_name):
            yield "clientSecretName", f"not a Kubernetes object name ({self.client_secret_name!r})"


class ExposureConfig(ConfigModel):
    """Who can call the models. Private (cluster-internal Services) unless set otherwise."""

    mode: Literal["private", "internalAlb", "public"] = Field(
        "private", description="private (cluster-internal Services only), internalAlb (an internal ALB Ingress with "
        "TLS; needs cluster.loadBalancerController) or public (internet-facing ALB: prod only, with waf or oidc). "
        "Default: private.")
    host: str | None = Field(None, description="Hostname (models under /<model>/). Required unless private.")
    certificate_arn: AcmCertificateArn | None = Field(None, description="ACM certificate. Required unless private.")
    waf_acl_arn: WafAclArn | None = Field(None, description="WAFv2 web ACL on the ALB. Default: none.")
    oidc: OidcAuthConfig | None = Field(None, description="OIDC authentication on the ALB. Default: none.")

    @property
    def ingress(self) -> bool:
        return self.mode != "private"

    def problems(self) -> Iterable[Problem]:
        if not self.ingress:
            return
        if not self.host:
            yield "host", f"required when mode is {self.mode}"
        elif "*" in self.host:
            yield "host", f"must not be a wildcard ({self.host!r})"
        if not self.certificate_arn:
            yield "certificateArn", f"required when mode is {self.mode} (TLS is mandatory)"
        if self.mode == "public" and not (self.waf_acl_arn or self.oidc):
            yield "mode", "public needs wafAclArn or oidc (no unauthenticated, unfiltered public endpoint)"


class ServingConfig(ConfigModel):
    """Model serving (KServe). Default: off (profiles: staging and prod on)."""

    enabled: bool = Field(False, description="Deploy model serving. Default: false.")
    engine: Literal["kserve"] = Field("kserve", description="kserve. Default: kserve.")
    namespace: K8sName = Field("serving", description="Namespace of the InferenceServices. Default: serving.")
    kserve_version: ChartVersion = Field(KSERVE_VERSION, description=f"kserve-crd and kserve-resources charts. "
                                         f"Default: {KSERVE_VERSION}.")
    cert_manager_version: ChartVersion = Field(CERT_MANAGER_VERSION, description=f"cert-manager chart (KServe's "
                                               f"webhook certificates). Default: {CERT_MANAGER_VERSION}.")
    ingress_domain: str = Field("svc.cluster.local", pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$",
                                description="KServe's `ingressDomain` (inferenceservice-config `ingress`): the domain "
                                "of each InferenceService's status URL (`<name>-<namespace>.<domain>`). The default, "
                                "svc.cluster.local, is KServe's cluster-local domain (v0.20.0 pkg/constants "
                                "ClusterLocalDomain: the raw reconciler then treats every service as internal and "
                                "creates no Ingress, as `disableIngressCreation` does; our ALB Ingress routes the "
                                "models). Default: svc.cluster.local.")
    runtimes: RuntimesConfig = Field(default_factory=RuntimesConfig, description="Serving runtimes.")
    models: list[ServedModelConfig] = Field(default_factory=list, description="Served models. Default: none.")
    exposure: ExposureConfig = Field(default_factory=ExposureConfig, description="Exposure. Default: private.")
    latency_slo_seconds: float = Field(0.5, gt=0, description="p99 latency objective of every model. Default: 0.5.")
    error_budget: float = Field(0.001, gt=0, lt=1, description="Allowed share of failed or slow requests "
                                "(SLO 99.9%). Default: 0.001.")
    fairness_threshold: float = Field(0.1, gt=0, lt=1, description="Alert when a model's demographic parity "
                                      "difference exceeds this, or its disparate impact ratio falls below 1 minus "
                                      "this (four-fifths rule at 0.2). Default: 0.1.")
    monitoring_job: bool = Field(True, description="The drift/fairness CronJob per model: computes the metrics "
                                 "from `<monitoringPrefix>/<model>/reference.csv` and `predictions/<day>/*.csv` in the "
                                 "artifact bucket and pushes them (README: Serving). Default: true.")
    monitoring_window_days: int = Field(7, ge=1, le=90, description="Days of logged predictions "
                                        "(`predictions/<YYYY-MM-DD>/`, UTC) the monitoring job reads. Default: 7.")
    monitoring_prefix: ArtifactPath = Field("monitoring", description="Key prefix of the monitoring inputs in the "
                                            "artifact bucket. Default: monitoring.")
    monitoring_job_image: ImageRef = Field("docker.io/library/python:3.12-slim",
                                           description="Image of the monitoring job. Default: python:3.12-slim.")
    monitoring_fetch_image: ImageRef = Field("docker.io/amazon/aws-cli:2.17.9",
                                             description="AWS CLI image that copies the monitoring inputs (IRSA). "
                                             "Default: docker.io/amazon/aws-cli:2.17.9.")

    def problems(self) -> Iterable[Problem]:
        seen: set[str] = set()
        prefixes: dict[str, str] = {}
        for i, model in enumerate(self.models):
            if model.name in seen:
                yield f"models[{i}].name", f"duplicate model name {model.name!r}"
            seen.add(model.name)
            head = model.name[:DISTINCT_NAME_PREFIX]
            if model.name not in prefixes.values() and head in prefixes:
                yield f"models[{i}].name", (
                    f"{model.name!r} and {prefixes[head]!r} share their first {DISTINCT_NAME_PREFIX} characters, "
                    "which name each model's dashboard (`serving-<name>`, Grafana's 40-character uid): rename one")
            prefixes.setdefault(head, model.name)
        if self.enabled and not self.models:
            yield "models", "at least one model is required when serving is enabled"
        for i, model in enumerate(self.models):
            if model.canary and not self.exposure.ingress:
                yield (f"models[{i}].canary", "needs exposure internalAlb or public: KServe v0.20 Standard mode routes "
                       "no traffic to a canary, the ALB's weighted target groups do (private models have no ALB)")


DISTINCT_NAME_PREFIX = 40 - len("serving-")
"""A model's dashboard uid is `serving-<name>` cut to Grafana's 40 characters (serving/dashboards.py), and its
ConfigMap's name derives from it: two models must differ within their first 32 characters (review R10SERVE)."""


_SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


class SageMakerModelConfig(ConfigModel):
    """One model on a SageMaker real-time endpoint."""

    name: str = Field(..., pattern=_SAGEMAKER_NAME, description="Model and endpoint name suffix. Required.")
    image: ImageRef = Field(..., description="Inference image in ECR that serves the model (e.g. built with "
                            "`mlflow sagemaker build-and-push-container`). Required.")
    artifact_path: ArtifactPath = Field(..., description="Key prefix of the (uncompressed) model in the artifact "
                                        "bucket. Required.")
    instance_type: str = Field("ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
                               description="Instance type. Default: ml.m5.large.")
    min_instances: int = Field(1, ge=1, le=100, description="Autoscaling floor. Default: 1.")
    max_instances: int = Field(2, ge=1, le=100, description="Autoscaling ceiling. Default: 2.")
    invocations_per_instance: int = Field(100, ge=1, description="Target invocations per instance per minute. "
                                          "Default: 100.")
    capture_percent: int = Field(100, ge=1, le=100, description="Requests captured to S3. Default: 100.")

    def problems(self) -> Iterable[Problem]:
        if self.max_instances < self.min_instances:
            yield "maxInstances", f"must be >= minInstances ({self.max_instances} < {self.min_instances})"


class SageMakerServingConfig(ConfigModel):
    """Model serving on SageMaker real-time endpoints (model, endpoint config with data capture, endpoint,
    autoscaling)."""

    enabled: bool = Field(False, description="Deploy model serving. Default: false.")
    engine: Literal["sagemaker"] = Field(..., description="sagemaker. Required for this engine.")
    models: list[SageMakerModelConfig] = Field(default_factory=list, description="Served models. Default: none.")

    def problems(self) -> Iterable[Problem]:
        if self.enabled and not self.models:
            yield "models", "at least one model is required when serving is enabled"


ServingEngineConfig = Annotated[
    Union[Annotated[ServingConfig, engine_tag("kserve")],  # noqa: UP007 (Annotated members)
          Annotated[SageMakerServingConfig, engine_tag("sagemaker")]],
    engine_discriminator("kserve")]
"""`serving`: chosen by `engine` (kserve, the default, or sagemaker)."""
