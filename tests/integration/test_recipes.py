"""The recipes (examples/recipes/), with the real frameworks and the platform's planned staging outputs.

Kedro (.venv-kedro: kedro, kedro-datasets[pandas], s3fs): render.py turns the stack outputs into conf/local/globals.yml,
Kedro's own OmegaConfigLoader loads the project's conf, `DataCatalog.from_config` builds the catalog, its datasets
read parquet from a moto S3 bucket named as the planned offline bucket, and the pipeline runs with SequentialRunner.
Not exercised: IRSA (moto takes any key), kedro-airflow's DAG, and MLflow logging (the recipe reads
MLFLOW_TRACKING_URI from the pod; test_mlflow.py covers the server).

LangChain (.venv-qdrant: langchain-qdrant 1.1.0 with langchain-core and qdrant-client): the recipe's Job reads the
Secret the plan's ExternalSecret writes in a granted namespace (its template keys are the app's Qdrant settings),
the NetworkPolicy admits that namespace, and the app indexes and retrieves through the real QdrantVectorStore on
qdrant-client's local mode, with embeddings from a stand-in model server that answers the V2 inference protocol
MLServer speaks. Not exercised: a real Qdrant server and a real served model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.plan import Inventory
from tests import netpol_eval
from tests.conftest import ROOT, planned
from tests.integration.services import consumer_python, moto_server

pytestmark = pytest.mark.integration

RECIPES = ROOT / "examples" / "recipes"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


@pytest.fixture(scope="module")
def staging() -> Inventory:
    return planned("staging")


def run(python: Path, code: str, *args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, **(env or {})})


# --- Kedro ---------------------------------------------------------------------------------------------------------

KEDRO_RUN = """
import json, sys
import pandas as pd
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
sys.path.insert(0, sys.argv[1])
from pipeline import create_pipeline

conf = OmegaConfigLoader(conf_source=sys.argv[1] + "/conf", base_env="base", default_run_env="local")
catalog = DataCatalog.from_config(conf["catalog"])
bucket = conf["globals"]["feature_store"]["offline_bucket"]
if sys.argv[2] == "seed":  # the feature store's data, written with the same fsspec/s3fs stack
    pd.DataFrame({"driver_id": [1, 1, 2], "event_timestamp": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-01"]),
                  "conv_rate": [0.1, 0.2, 0.3], "acc_rate": [0.9, 0.8, 0.7], "avg_daily_trips": [10, 12, 7]}
                 ).to_parquet(f"s3://{bucket}/offline/driver_hourly_stats.parquet")
    pd.DataFrame({"user_id": [1, 2], "embedding_0": [0.5, 0.25]}).to_parquet(f"s3://{bucket}/offline/user_embeddings.parquet")
stats = catalog.load("driver_hourly_stats")
SequentialRunner().run(create_pipeline(), catalog)
table = catalog.load("training_table")
print(json.dumps({"bucket": bucket, "stats_rows": len(stats), "table": table.sort_values("driver_id").to_dict("list")},
                 default=str))
"""


def test_the_kedro_catalog_loads_with_kedro_and_reads_the_offline_bucket(staging: Inventory, tmp_path: Path) -> None:
    python = consumer_python("kedro")
    outputs = staging.outputs
    project = tmp_path / "kedro"
    shutil.copytree(RECIPES / "kedro", project)
    rendered = subprocess.run([str(python), str(project / "render.py")], input=json.dumps(outputs), text=True,
                              capture_output=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    globals_ = yaml.safe_load(rendered.stdout)
    assert globals_["feature_store"]["offline_bucket"] == outputs["featureStoreOfflineBucketName"]
    assert globals_["mlflow"]["tracking_uri"] == outputs["mlflowTrackingUri"]
    (project / "conf" / "local").mkdir(parents=True, exist_ok=True)
    (project / "conf" / "local" / "globals.yml").write_text(rendered.stdout)
    with moto_server() as url:
        import boto3
        boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=outputs["featureStoreOfflineBucketName"])
        env = {"AWS_ENDPOINT_URL_S3": url, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "KEDRO_DISABLE_TELEMETRY": "true",
               "DO_NOT_TRACK": "1"}
        result = run(python, KEDRO_RUN, str(project), "seed", env=env, cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["bucket"] == outputs["featureStoreOfflineBucketName"] and got["stats_rows"] == 3
    assert got["table"]["driver_id"] == [1, 2] and got["table"]["conv_rate"] == [0.2, 0.3]
    assert got["table"]["embedding_0"] == [0.5, 0.25]


def test_render_refuses_outputs_without_the_feature_store(tmp_path: Path) -> None:
    result = subprocess.run([str(consumer_python("kedro")), str(RECIPES / "kedro" / "render.py")],
                            input=json.dumps({"mlflowTrackingUri": "http://mlflow"}), text=True, capture_output=True,
                            timeout=120)
    assert result.returncode != 0 and "featureStoreOfflineBucketName" in result.stderr


# --- LangChain -----------------------------------------------------------------------------------------------------

LANGCHAIN_RUN = """
import json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
sys.path.insert(0, sys.argv[1])
import app

WORDS = ["driver", "trips", "rating", "embedding", "qdrant", "kedro", "weather", "price"]

class V2(BaseHTTPRequestHandler):  # the V2 (Open Inference) protocol's infer call, as MLServer answers it
    def log_message(self, *a): pass
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == f"/v2/models/{MODEL}/infer", self.path
        texts = req["inputs"][0]["data"]
        vecs = [[float(t.lower().count(w)) + 0.01 for w in WORDS] for t in texts]
        body = json.dumps({"model_name": MODEL, "outputs": [{"name": "embedding", "datatype": "FP32",
                           "shape": [len(texts), len(WORDS)], "data": [v for row in vecs for v in row]}]}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)

MODEL = json.loads(sys.argv[2])["MODEL"]
server = ThreadingHTTPServer(("127.0.0.1", 0), V2)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = {**json.loads(sys.argv[2])}
env["MODEL_ENDPOINT"] = env["MODEL_ENDPOINT"].replace(env.pop("SERVING_BASE"), f"http://127.0.0.1:{server.server_port}")
try:
    app.AppConfig.from_env({k: v for k, v in env.items() if k != "QDRANT_API_KEY"})
    raise SystemExit("a config without QDRANT_API_KEY was accepted")
except ValueError as exc:
    assert "QDRANT_API_KEY" in str(exc)
config = app.AppConfig.from_env({**env, "QDRANT_URL": ":memory:"})
store = app.index(config, ["driver trips per day", "qdrant stores embedding vectors", "weather and price data"])
hits = store.similarity_search("how many trips did a driver make", k=1)
print(json.dumps({"top": hits[0].page_content}))
"""


def test_the_langchain_job_gets_its_qdrant_settings_from_the_platforms_secret(staging: Inventory) -> None:
    job = yaml.safe_load((RECIPES / "langchain" / "job.yaml").read_text())
    ns = job["metadata"]["namespace"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    [source] = container["envFrom"]
    assert source["secretRef"]["name"] == staging.outputs["qdrantCredentialsSecret"]
    [secret] = [e for e in staging.of_type(EXTERNAL_SECRET) if e.inputs["metadata"]["namespace"] == ns
                and e.inputs["spec"]["target"]["name"] == source["secretRef"]["name"]]
    from_secret = secret.inputs["spec"]["target"]["template"]["data"]
    assert from_secret["QDRANT_URL"] == staging.outputs["qdrantUrl"]
    required = _app_required()
    assert set(required) <= set(from_secret) | {e["name"] for e in container["env"]}
    assert {"QDRANT_URL", "QDRANT_API_KEY"} <= set(from_secret)  # never in the Job's own env
    # The NetworkPolicy admits the Job's namespace to the API port.
    [release] = [r for r in staging.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "qdrant"]
    qdrant = netpol_eval.Pod(release.inputs["namespace"], release.inputs["values"]["podLabels"])
    assert netpol_eval.allows(netpol_eval.policies_in(staging), netpol_eval.Pod(ns, {"job-name": "rag-query"}),
                              qdrant, 6333)


def _app_required() -> tuple[str, ...]:
    import ast
    tree = ast.parse((RECIPES / "langchain" / "app.py").read_text())
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and getattr(stmt.targets[0], "id", "") == "REQUIRED":
            return tuple(ast.literal_eval(stmt.value))
    raise AssertionError("app.py has no REQUIRED")


def test_the_langchain_app_indexes_and_retrieves_with_the_real_packages(staging: Inventory) -> None:
    # The model's URL as the platform outputs it, its host swapped for the stand-in server's.
    [(name, endpoint)] = list(staging.outputs["servingEndpoints"].items())[:1]
    base = endpoint.split("/v2/")[0]
    env: dict[str, Any] = {"QDRANT_URL": staging.outputs["qdrantUrl"], "QDRANT_API_KEY": "from-the-secret",
                           "MODEL_ENDPOINT": endpoint, "SERVING_BASE": base, "COLLECTION": f"{name}-docs",
                           "MODEL": name}
    result = run(consumer_python("qdrant"), LANGCHAIN_RUN, str(RECIPES / "langchain"), json.dumps(env))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"top": "driver trips per day"}

