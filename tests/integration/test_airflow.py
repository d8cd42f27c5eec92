"""The real Airflow (the version the pinned chart deploys; `.venv-airflow`, built by .ci/venvs/airflow.sh) on what
the platform generates, taken from the all-engines plan's Airflow release:

- it parses the example DAG (examples/pipelines/airflow) with the release's env (GPU placement, MLflow URI):
  no import errors, and the GPU step's pod override carries the pool's node selector, tolerations and a GPU;
- its remote logging, configured with the release's `[logging]` settings and the AWS connection from its env,
  uploads a task log to the configured S3 folder (a moto S3 server: the only addition is the connection's
  `endpoint_url` and test credentials);
- the StatsD names the alert rules read are the ones this Airflow emits.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlops_infra.pipelines import airflow_metrics
from tests.integration.plans import plan
from tests.integration.services import consumer_python, moto_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "examples" / "pipelines" / "airflow"


def release_values() -> dict[str, Any]:
    (rel,) = [r for r in plan("variant-pipelines").of_type("kubernetes:helm.sh/v3:Release") if "airflow" in r.name]
    return rel.inputs["values"]


def airflow_env(home: Path, values: dict[str, Any], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The release's env and `[logging]` settings as Airflow reads them (AIRFLOW__SECTION__KEY)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env |= {e["name"]: str(e["value"]) for e in values["env"]}
    for section, settings in values["config"].items():
        for key, value in settings.items():
            env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = str(value)
    env |= {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"}
    return env | (extra or {})


def run(script: str, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([str(consumer_python("airflow")), "-c", script], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


PARSE = """
import json
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=__import__("os").environ["AIRFLOW__CORE__DAGS_FOLDER"], include_examples=False)
dag = bag.dags.get("train_on_gpu")
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": sorted(bag.dags)}
if dag is not None:
    pod = dag.get_task("train").executor_config["pod_override"]
    base = pod.spec.containers[0]
    out |= {"node_selector": pod.spec.node_selector, "tolerations": [t.to_dict() for t in pod.spec.tolerations],
            "gpu_limit": base.resources.limits.get("nvidia.com/gpu"), "tasks": sorted(t.task_id for t in dag.tasks)}
print(json.dumps(out))
"""


def test_the_example_dag_parses_and_its_gpu_step_lands_on_the_training_pool() -> None:
    values = release_values()
    env_of = {e["name"]: e["value"] for e in values["env"]}
    with tempfile.TemporaryDirectory(prefix="it-airflow-") as home:
        out = run(PARSE, airflow_env(Path(home), values))
    assert out["errors"] == {} and out["dags"] == ["train_on_gpu"]
    assert out["tasks"] == ["register", "train"]
    assert out["node_selector"] == json.loads(env_of["MLOPS_GPU_NODE_SELECTOR"]) != {}
    assert {(t["key"], t["operator"], t["effect"]) for t in out["tolerations"]} == {
        (t["key"], t["operator"], t["effect"]) for t in json.loads(env_of["MLOPS_GPU_TOLERATIONS"])}
    assert out["gpu_limit"] == "1"


UPLOAD = """
import json, os, pathlib
from airflow.config_templates import airflow_local_settings as settings
io = settings.REMOTE_TASK_LOG
base = pathlib.Path(os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"])
rel = "dag_id=train_on_gpu/run_id=manual/task_id=train/attempt=1.log"
(base / rel).parent.mkdir(parents=True, exist_ok=True)
(base / rel).write_text("epoch 1 loss 0.42\\n")
io.upload(rel, None)
print(json.dumps({"handler": type(io).__name__, "remote_base": io.remote_base, "rel": rel,
                  "local_left": (base / rel).exists()}))
"""


def test_remote_logging_config_uploads_task_logs_to_the_configured_bucket() -> None:
    values = release_values()
    folder = values["config"]["logging"]["remote_base_log_folder"]
    bucket, prefix = folder.removeprefix("s3://").split("/", 1)
    conn = json.loads(next(e["value"] for e in values["env"] if e["name"] == "AIRFLOW_CONN_AWS_PLATFORM"))
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with moto_server() as endpoint, tempfile.TemporaryDirectory(prefix="it-airflow-") as home:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        s3.create_bucket(Bucket=bucket)
        conn["extra"]["endpoint_url"] = endpoint  # moto stands in for S3; nothing else of the connection changes
        env = airflow_env(Path(home), values, {**creds, "AIRFLOW_CONN_AWS_PLATFORM": json.dumps(conn)})
        out = run(UPLOAD, env)
        key = f"{prefix}/{out['rel']}"
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert out["handler"] == "S3RemoteLogIO" and out["remote_base"] == folder
    assert body == "epoch 1 loss 0.42\n"
    assert out["local_left"] is False  # delete_local_logs: the pod's disk does not keep uploaded logs


def test_the_rules_read_statsd_names_this_airflow_emits() -> None:
    script = ("import airflow, json, pathlib; root = pathlib.Path(airflow.__file__).parent; "
              "print(json.dumps('\\n'.join(p.read_text(errors='ignore') for p in root.rglob('*.py'))))")
    proc = subprocess.run([str(consumer_python("airflow")), "-c", script], capture_output=True, text=True, timeout=300)
    source = json.loads(proc.stdout)
    assert 'Stats.incr("scheduler_heartbeat"' in source
    assert 'Stats.incr("ti_failures"' in source
    assert 'Stats.gauge(f"dag_processing.last_run.seconds_ago.{file_name}"' in source
    assert airflow_metrics.DAG_FILE_AGE.split("{")[0] == "dag_processing.last_run.seconds_ago."
