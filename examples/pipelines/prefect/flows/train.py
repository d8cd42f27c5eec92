"""A tiny Prefect flow: prepare -> train. Deployed with the platform's `prefectProjectYaml` (the `train` deployment
asks the work pool for one GPU, `gpu_limit: 1`); flow runs get MLFLOW_TRACKING_URI from the pool's template."""

import os

from prefect import flow, task


@task
def prepare() -> list[float]:
    return [float(i) for i in range(10)]


@task
def fit(samples: list[float]) -> dict[str, float]:
    # A stand-in model: the mean. A real task trains here and logs to MLflow at MLFLOW_TRACKING_URI.
    return {"mean": sum(samples) / len(samples)}


@flow(log_prints=True)
def train() -> dict[str, float]:
    model = fit(prepare())
    print("model", model, "tracking", os.environ.get("MLFLOW_TRACKING_URI", ""))
    return model


if __name__ == "__main__":
    train()
