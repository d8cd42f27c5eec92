"""A Kubeflow Pipelines (v2 SDK) pipeline that trains on the platform's GPU pool and logs to its MLflow.

It reads the platform stack's outputs (`pulumi stack output --json --show-secrets=false > platform.json`):
`mlflowTrackingUri`, `featureStoreFeatureServerUrl` and `kfpGpuPlacement` (the training pool's node selector and
tolerations). Compile, then upload the YAML in the KFP UI or with `kfp.Client(host=<kfpApiUrl>)`:

    python train_pipeline.py platform.json train_pipeline.yaml
"""

# No `from __future__ import annotations`: the KFP SDK reads the components' annotations as types.
import json
import sys
from typing import Any

from kfp import compiler, dsl, kubernetes

# Step pods reach no package index: the image has kfp installed (images/kfp-component/Dockerfile, built and pushed
# to your ECR; add mlflow and your framework), and the components do not pip install it at start.
TRAINING_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/kfp-component:2.17.0-1"


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def train(epochs: int) -> str:
    import os

    # MLFLOW_TRACKING_URI and FEAST_FEATURE_SERVER_URL are set on the step (see build() below).
    print("training for", epochs, "epochs; tracking at", os.environ.get("MLFLOW_TRACKING_URI"))
    return "runs:/example/model"


@dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)
def register(model_uri: str, name: str) -> None:
    print("register", model_uri, "as", name)  # mlflow.register_model(model_uri, name) in a real image


def build(platform: dict[str, Any]) -> Any:
    """The pipeline, wired to one platform's outputs."""
    placement = json.loads(platform["kfpGpuPlacement"])
    env = {"MLFLOW_TRACKING_URI": platform["mlflowTrackingUri"],
           "FEAST_FEATURE_SERVER_URL": platform.get("featureStoreFeatureServerUrl", "")}

    @dsl.pipeline(name="train-on-gpu", description="Train on the GPU pool, register in MLflow.")
    def train_on_gpu(epochs: int = 3, model_name: str = "churn") -> None:
        step = train(epochs=epochs)
        step.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
        step.set_cpu_limit("4").set_memory_limit("16G")
        for key, value in placement["nodeSelector"].items():
            kubernetes.add_node_selector(step, label_key=key, label_value=value)
        for tol in placement["tolerations"]:
            kubernetes.add_toleration(step, key=tol["key"], operator=tol["operator"], effect=tol["effect"])
        for task in (step, register(model_uri=step.output, name=model_name)):
            for name, value in env.items():
                task.set_env_variable(name, value)

    return train_on_gpu


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        outputs = json.load(f)
    compiler.Compiler().compile(build(outputs), sys.argv[2])
