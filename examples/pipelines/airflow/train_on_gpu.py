"""Train a model on the platform's GPU pool, then register it in MLflow (Airflow 3, KubernetesExecutor).

The platform puts into every Airflow pod:
- MLFLOW_TRACKING_URI, FEAST_FEATURE_SERVER_URL: the model registry and the online feature server;
- MLOPS_GPU_NODE_SELECTOR, MLOPS_GPU_TOLERATIONS (JSON): where GPU steps run (the training pool and its taints).
The `train` task asks for one GPU through `executor_config` (`pod_override` of the KubernetesExecutor's pod
template). Both tasks run on TRAINING_IMAGE, which you build FROM the platform's Airflow image at its pinned
version (`apache/airflow:3.1.7`, `orchestration.airflow.image`): replacing the `base` container's image replaces
the image the KubernetesExecutor runs the task in, with `python -m airflow.sdk.execution_time.execute_workload
--json-string <workload>`, so it needs that same Airflow and Task SDK, and the amazon provider the official image
ships (it uploads the task log to S3 when the task ends). Add mlflow (>= 3, the tracking server's version), your
training code and its CUDA libraries on top, and keep the image's `airflow` user (uid 50000, gid 0: the pod runs
as it, with a read-only root and /tmp on an emptyDir). The default image has no mlflow, so the placeholder below
must be replaced (or set TRAINING_IMAGE in the Airflow env). Task pods run as the platform's executor
ServiceAccount, whose role may read the feature store and write model artifacts.
"""

from __future__ import annotations

import json
import os
from datetime import datetime

from airflow.sdk import dag, task
from kubernetes.client import models as k8s

TRAINING_IMAGE = os.environ.get("TRAINING_IMAGE", "registry.example.com/ml/train:replace-me")  # see the docstring
MODEL_NAME = "churn"


def gpu_pod(gpus: int = 1) -> k8s.V1Pod:
    """The KubernetesExecutor's pod override for a GPU step: node selector, tolerations, GPU limit."""
    selector = json.loads(os.environ.get("MLOPS_GPU_NODE_SELECTOR", "{}"))
    tolerations = [k8s.V1Toleration(**t) for t in json.loads(os.environ.get("MLOPS_GPU_TOLERATIONS", "[]"))]
    amounts = {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": str(gpus)}
    base = k8s.V1Container(name="base", image=TRAINING_IMAGE,
                           resources=k8s.V1ResourceRequirements(requests=amounts, limits=amounts))
    return k8s.V1Pod(spec=k8s.V1PodSpec(node_selector=selector, tolerations=tolerations, containers=[base]))


def image_pod() -> k8s.V1Pod:
    """A CPU step on the training image (it has mlflow; the default Airflow image does not)."""
    return k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", image=TRAINING_IMAGE)]))


def train_and_log() -> str:
    """Train, log the model to the run, return the logged model's URI (what `register` registers)."""
    import mlflow  # in TRAINING_IMAGE; the tracking URI comes from MLFLOW_TRACKING_URI

    class Model(mlflow.pyfunc.PythonModel):  # type: ignore[misc]  # stands for your trained model
        def predict(self, context: object, model_input: list[float], params: dict[str, object] | None = None
                    ) -> list[float]:
            return [0.0 for _ in model_input]

    with mlflow.start_run():
        mlflow.log_param("gpus", 1)
        # ... train on the GPU, then mlflow.<flavor>.log_model(model, name="model") for your framework
        info = mlflow.pyfunc.log_model(name="model", python_model=Model())
        return str(info.model_uri)


def register_logged(model_uri: str) -> str:
    import mlflow

    return str(mlflow.register_model(model_uri, MODEL_NAME).version)


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["mlops", "gpu", "mlflow"])
def train_on_gpu() -> None:
    @task(executor_config={"pod_override": gpu_pod()})
    def train() -> str:
        return train_and_log()

    @task(executor_config={"pod_override": image_pod()})
    def register(model_uri: str) -> None:
        register_logged(model_uri)

    register(train())


train_on_gpu()
