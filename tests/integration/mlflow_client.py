"""Client work run by the MLflow test inside the MLflow virtualenv (not imported by the test suite).

    python mlflow_client.py log <tracking-uri> [experiment] [model]  -> one run with an artifact and a model version
                                                                      (JSON); credentials from MLFLOW_TRACKING_*
    python mlflow_client.py burst <tracking-uri> <secs> <threads>  -> REST calls from threads until time is up
"""

import json
import os
import sys
import tempfile
import threading
import time
import uuid

import mlflow
from mlflow import MlflowClient


def log(uri: str, experiment: str = "integration", model: str = "integration-model") -> None:
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("rmse", 0.25)
        path = os.path.join(tempfile.mkdtemp(), "weights.txt")
        with open(path, "w") as f:
            f.write("weights")
        mlflow.log_artifact(path, artifact_path="model")
    client = MlflowClient(uri)
    client.create_registered_model(model)
    version = client.create_model_version(model, source=f"{run.info.artifact_uri}/model",
                                          run_id=run.info.run_id)
    listed = [a.path for a in client.list_artifacts(run.info.run_id, "model")]
    print(json.dumps({"runId": run.info.run_id, "artifactUri": run.info.artifact_uri, "version": version.version,
                      "artifacts": listed}))


def burst(uri: str, seconds: float, threads: int) -> None:
    client = MlflowClient(uri)
    experiment = client.create_experiment(f"burst-{uuid.uuid4().hex[:8]}")
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def work() -> None:
        while time.monotonic() < stop:
            try:
                run = client.create_run(experiment)
                client.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric("loss", i / 10, 0, i)
                                                           for i in range(50)])
                path = os.path.join(tempfile.mkdtemp(), "a.txt")
                with open(path, "w") as f:
                    f.write("x" * 65536)
                client.log_artifact(run.info.run_id, path)
                client.search_runs([experiment], max_results=50)
                client.search_registered_models(max_results=10)
                client.set_terminated(run.info.run_id)
            except Exception as exc:  # reported, the test fails on any
                errors.append(repr(exc))
                return

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(json.dumps({"errors": errors}))


if __name__ == "__main__":
    if sys.argv[1] == "log":
        log(*sys.argv[2:5])
    else:
        burst(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
