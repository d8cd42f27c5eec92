"""Train a model on the platform's GPU pool, then register it in MLflow (Airflow 3, KubernetesExecutor).

The platform puts into every Airflow pod:
- MLFLOW_TRACKING_URI, FEAST_FEATURE_SERVER_URL: the model registry and the online feature server;
- MLOPS_GPU_NODE_SELECTOR, MLOPS_GPU_TOLERATIONS (JSON): where GPU steps run (the training pool and its taints).
The `train` task asks for one GPU through `executor_config` (`pod_override` of the KubernetesExecutor's pod
template); its image must carry your training code and mlflow (TRAINING_IMAGE below). Task pods run as the
platform's executor ServiceAccount, whose role may read the feature store and write model artifacts.
"""

from __future__ import annotations

import json
import os
from datetime import datetime

from airflow.sdk import dag, task
from kubernetes.client import models as k8s

TRAINING_IMAGE = os.environ.get("TRAINING_IMAGE", "apache/airflow:3.1.7")  # replace with your image (+ mlflow)
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


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["mlops", "gpu", "mlflow"])
def train_on_gpu() -> None:
    @task(executor_config={"pod_override": gpu_pod()})
    def train() -> str:
        import mlflow  # in TRAINING_IMAGE; the tracking URI comes from MLFLOW_TRACKING_URI

        with mlflow.start_run() as run:
            mlflow.log_param("gpus", 1)
            # ... train on the GPU, then mlflow.<flavor>.log_model(model, name="model")
            return str(run.info.run_id)

    @task(executor_config={"pod_override": image_pod()})
    def register(run_id: str) -> None:
        import mlflow

        mlflow.register_model(f"runs:/{run_id}/model", MODEL_NAME)

    register(train())


train_on_gpu()
