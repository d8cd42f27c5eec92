"""The ServingRuntimes (one per model flavour) and what each one emits, as plain data (no Pulumi).

A model's flavour picks its runtime (`RUNTIME_OF`); the InferenceService names that runtime and a `modelFormat`
the runtime lists in `supportedModelFormats`, so KServe never auto-selects another (cluster-wide) runtime.
Container specs follow KServe v0.20.0's own runtimes (charts/kserve-runtime-configs/files/runtimes/resources.yaml:
`kserve-mlserver`, `kserve-tensorflow-serving`): the model server listens on 8080 (HTTP) and 9000 (gRPC), the
storage initializer puts the model under /mnt/models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Flavour, RuntimesConfig

HTTP_PORT = 8080
GRPC_PORT = 9000
MODEL_DIR = "/mnt/models"
MLSERVER_METRICS_PORT = 8082
"""MLServer's Prometheus endpoint (`metrics_port`, default 8082, mlserver/settings.py 1.7.1), path /metrics."""
TFSERVING_METRICS_PATH = "/monitoring/prometheus/metrics"
"""TF Serving serves Prometheus metrics on its REST port when `--monitoring_config_file` enables them."""
TFSERVING_MONITORING_CONFIG = f'prometheus_config {{\n  enable: true\n  path: "{TFSERVING_METRICS_PATH}"\n}}\n'
TFSERVING_CONFIG_DIR = "/etc/tfserving"
MLSERVER_MLFLOW_IMPLEMENTATION = "mlserver_mlflow.MLflowRuntime"
MLSERVER_IMAGE_PACKAGES = {"mlflow": "2.19.0", "scikit-learn": "1.5.2", "numpy": "1.26.4", "pandas": "2.2.3"}
"""What docker.io/seldonio/mlserver:1.7.1 installs (SeldonIO/MLServer 1.7.1: the Dockerfile installs every runtime
with `poetry export --with all-runtimes` constraints from the root poetry.lock, which locks mlflow 2.19.0,
scikit-learn 1.5.2, numpy 1.26.4, pandas 2.2.3). A model the MLflow runtime loads is unpickled by these versions:
log it with `serialization_format="cloudpickle"` and train with this scikit-learn and numpy (README: Serving)."""
MLFLOW_SKLEARN_SERIALIZATION = "cloudpickle"
NONROOT_UID = 1000
"""Both images run as uid 1000 (KServe sets `runAsUser: 1000` for TF Serving; the MLServer image's user is 1000)."""


@dataclass(frozen=True)
class Runtime:
    name: str
    """The ServingRuntime's name in the serving namespace."""
    model_format: str
    """The `modelFormat.name` InferenceServices of this flavour declare."""
    protocol: str
    metrics_port: int
    metrics_path: str


RUNTIME_OF: dict[Flavour, Runtime] = {
    "mlflow": Runtime("mlserver-mlflow", "mlflow", "v2", MLSERVER_METRICS_PORT, "/metrics"),
    "tensorflow": Runtime("tfserving", "tensorflow", "v1", HTTP_PORT, TFSERVING_METRICS_PATH),
}
TFSERVING_GPU = Runtime("tfserving-gpu", "tensorflow", "v1", HTTP_PORT, TFSERVING_METRICS_PATH)
"""TF Serving's CUDA build (`-gpu` image) for tensorflow models with gpus > 0: the plain image has no GPU kernels."""


def runtime_for(flavour: Flavour, gpus: int = 0) -> Runtime:
    """The ServingRuntime a model of `flavour` with `gpus` GPUs runs on."""
    return TFSERVING_GPU if flavour == "tensorflow" and gpus else RUNTIME_OF[flavour]


def health_path(flavour: Flavour, model: str) -> str:
    """What answers 200 once the model is loaded: MLServer's V2 readiness, TF Serving's model status."""
    return "/v2/health/ready" if flavour == "mlflow" else f"/v1/models/{model}"


def _security_context() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "runAsUser": NONROOT_UID, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}}


def mlserver_env(model_name: str, model_uri: str = MODEL_DIR) -> dict[str, str]:
    """What MLServer reads (settings with prefix MLSERVER_, model settings with prefix MLSERVER_MODEL_): the
    integration test starts the real MLServer with exactly this environment."""
    return {
        "MLSERVER_HTTP_PORT": str(HTTP_PORT),
        "MLSERVER_GRPC_PORT": str(GRPC_PORT),
        "MLSERVER_METRICS_PORT": str(MLSERVER_METRICS_PORT),
        "MLSERVER_MODEL_IMPLEMENTATION": MLSERVER_MLFLOW_IMPLEMENTATION,
        "MLSERVER_MODEL_NAME": model_name,
        "MLSERVER_MODEL_URI": model_uri,
        # A single model, no worker pool: one process, so the metrics of every request are in one registry.
        "MLSERVER_PARALLEL_WORKERS": "0",
    }


def serving_runtime_spec(flavour: Flavour, images: RuntimesConfig, config_map: str | None = None,
                         gpu: bool = False) -> dict[str, Any]:
    """The `spec` of the ServingRuntime for `flavour` (`gpu`: TF Serving's CUDA image). `config_map` holds TF
    Serving's monitoring config."""
    runtime = TFSERVING_GPU if gpu and flavour == "tensorflow" else RUNTIME_OF[flavour]
    # Defaults only: every InferenceService sets its own resources (requests = limits).
    resources = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if flavour == "mlflow":
        env = {k: v for k, v in mlserver_env("{{.Name}}").items()}
        container: dict[str, Any] = {
            "name": "kserve-container", "image": images.mlserver_image,
            "env": [{"name": k, "value": v} for k, v in env.items()],
            "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                      {"name": "metrics", "containerPort": MLSERVER_METRICS_PORT, "protocol": "TCP"}],
        }
    else:
        if config_map is None:
            raise ValueError("the tensorflow runtime needs the ConfigMap holding its monitoring config")
        volumes.append({"name": "monitoring-config", "configMap": {"name": config_map}})
        mounts.append({"name": "monitoring-config", "mountPath": TFSERVING_CONFIG_DIR, "readOnly": True})
        container = {
            "name": "kserve-container", "image": images.tfserving_gpu_image if gpu else images.tfserving_image,
            "command": ["/usr/bin/tensorflow_model_server"],
            "args": ["--model_name={{.Name}}", f"--port={GRPC_PORT}", f"--rest_api_port={HTTP_PORT}",
                     f"--model_base_path={MODEL_DIR}", "--rest_api_timeout_in_ms=60000",
                     f"--monitoring_config_file={TFSERVING_CONFIG_DIR}/monitoring.config"],
            "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        }
    # Without a readinessProbe KServe v0.20.0 adds a TCP probe on 8080, which both servers open before the model is
    # loaded. `{{.Name}}` is filled in: KServe's ReplacePlaceholders templates the whole container JSON (probes too)
    # with the InferenceService's metadata.
    container |= {"resources": resources, "securityContext": _security_context(), "volumeMounts": mounts,
                  "readinessProbe": {"httpGet": {"path": health_path(flavour, "{{.Name}}"), "port": HTTP_PORT},
                                     "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}}
    return {
        "annotations": {"prometheus.kserve.io/port": str(runtime.metrics_port),
                        "prometheus.kserve.io/path": runtime.metrics_path},
        "supportedModelFormats": [{"name": runtime.model_format, "version": v, "autoSelect": True, "priority": 1}
                                  for v in (("1", "2") if flavour == "tensorflow" else ("2", "3"))],
        "protocolVersions": [runtime.protocol],
        "containers": [container],
        "volumes": volumes,
    }
