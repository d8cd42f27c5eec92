"""The example DAG's train and register steps (examples/pipelines/airflow/train_on_gpu.py) against a real MLflow
(`.venv-mlflow`, the tracking server's version): the step registers the model the training step logged, and it
loads. The two functions are taken from the example's source (its Airflow and Kubernetes imports are not in the
MLflow virtualenv); the DAG itself is parsed by tests/integration/test_airflow.py."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from .services import consumer_python

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "airflow" / "train_on_gpu.py"
RUN = """
import json, sys, mlflow
exec(sys.stdin.read())
uri = train_and_log()
version = register_logged(uri)
client = mlflow.MlflowClient()
mv = client.get_model_version(MODEL_NAME, version)
model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version}")
print(json.dumps({"uri": uri, "source": mv.source, "model_id": getattr(mv, "model_id", None),
                  "prediction": list(model.predict([1.0, 2.0]))}))
"""


def _steps_source() -> str:
    tree = ast.parse(EXAMPLE.read_text())
    keep = [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name in ("train_and_log", "register_logged"))
            or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "MODEL_NAME" for t in n.targets))]
    assert len(keep) == 3, [getattr(n, "name", None) for n in keep]
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


def test_the_example_registers_the_model_its_training_step_logged() -> None:
    with tempfile.TemporaryDirectory(prefix="it-airflow-mlflow-") as d:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env |= {"MLFLOW_TRACKING_URI": f"sqlite:///{d}/mlflow.db", "MLFLOW_ARTIFACTS_DESTINATION": f"{d}/artifacts"}
        proc = subprocess.run([str(consumer_python("mlflow")), "-c", RUN], input=_steps_source(), env=env, cwd=d,
                              capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["uri"].startswith("models:/") and out["source"] == out["uri"]  # the version is the logged model
    assert out["prediction"] == [0.0, 0.0]
