"""Model serving against real software.

- MLServer 1.7.1 with its MLflow runtime (`.venv-mlserver`, .ci/venvs/mlserver.sh) serves a tiny scikit-learn
  model that the real MLflow client logged and registered into a moto S3 bucket: the test resolves the registered
  version as the README tells users to, renders the InferenceService from it, downloads its storageUri as KServe's
  storage initializer would, starts MLServer with the environment the ServingRuntime renders, asks for a V2
  prediction, then scrapes MLServer's metrics port and checks the series the serving rules read exist there.
- The example monitoring job's script renders the push contract; promtool evaluates the serving rules on exactly
  those series (drift and fairness alerts fire, and stay quiet on a healthy report).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from mlops_infra.serving import manifests, rules
from mlops_infra.serving.config import RuntimesConfig, ServedModelConfig, ServingConfig
from mlops_infra.serving.monitor_job import SCRIPT
from mlops_infra.serving.runtimes import MODEL_DIR, serving_runtime_spec

from .services import consumer_python, free_port, moto_server, wait_http

pytestmark = pytest.mark.integration
BUCKET = "mlops-staging-registry-artifacts"
MOTO = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOG_AND_REGISTER = """
import sys, mlflow, pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
workdir, bucket = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
exp = mlflow.create_experiment("churn", artifact_location=f"s3://{bucket}/artifacts/1")
X = pd.DataFrame({"tenure": [0.0, 1.0, 2.0, 3.0]})
with mlflow.start_run(experiment_id=exp):
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X, [0, 0, 1, 1]), name="model", input_example=X.head(2))
version = mlflow.register_model(info.model_uri, "churn").version
print(MlflowClient().get_model_version_download_uri("churn", version))
"""


def _download(endpoint: str, uri: str, dest: Path) -> None:
    """What the storage initializer does for an s3:// storageUri: every object under the prefix, relative paths."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=endpoint, **MOTO)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
            for o in page.get("Contents", [])]
    assert keys, f"nothing under {uri}"
    for key in keys:
        target = dest / key[len(prefix) + 1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        out: dict[str, Any] = json.loads(resp.read())
        return out


def test_mlserver_serves_the_registered_model_from_the_rendered_storage_uri(tmp_path: Path) -> None:
    python = consumer_python("mlserver")
    started = time.monotonic()
    with moto_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, **MOTO).create_bucket(Bucket=BUCKET)
        env = {**os.environ, "MLFLOW_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        logged = subprocess.run([str(python), "-c", LOG_AND_REGISTER, str(tmp_path), BUCKET], env=env,
                                capture_output=True, text=True, check=False, timeout=300)
        assert logged.returncode == 0, logged.stderr[-3000:]
        download_uri = logged.stdout.strip().splitlines()[-1]
        assert download_uri.startswith(f"s3://{BUCKET}/artifacts/1/")
        model = ServedModelConfig(name="churn", flavour="mlflow",
                                  artifact_path=download_uri.removeprefix(f"s3://{BUCKET}/"))
        isvc = manifests.inference_service(model, bucket=BUCKET, namespace="serving", service_account="sa")
        storage_uri = isvc["spec"]["predictor"]["model"]["storageUri"]
        assert storage_uri == download_uri
        model_dir = tmp_path / "mnt-models"
        _download(endpoint, storage_uri, model_dir)
    (container,) = serving_runtime_spec("mlflow", RuntimesConfig())["containers"]
    assert container["name"] == "kserve-container"
    runtime_env = {e["name"]: e["value"].replace("{{.Name}}", model.name).replace(MODEL_DIR, str(model_dir))
                   for e in container["env"]}
    http, grpc, metrics = free_port(), free_port(), free_port()
    runtime_env |= {"MLSERVER_HTTP_PORT": str(http), "MLSERVER_GRPC_PORT": str(grpc),
                    "MLSERVER_METRICS_PORT": str(metrics), "MLSERVER_HOST": "127.0.0.1"}
    proc = subprocess.Popen([str(python.with_name("mlserver")), "start", str(model_dir)],
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **runtime_env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{http}/v2/models/{model.name}/ready", 120, proc)
        answer = _post(f"http://127.0.0.1:{http}/v2/models/{model.name}/infer", {
            "inputs": [{"name": "tenure", "shape": [2], "datatype": "FP64", "data": [0.0, 3.0]}]})
        (output,) = answer["outputs"]
        assert [int(v) for v in output["data"]] == [0, 1]
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as resp:
            exposition = resp.read().decode()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
    print(f"log + register + download + serve: {time.monotonic() - started:.1f}s")
    _assert_rules_read_emitted_series(exposition, out)


def _assert_rules_read_emitted_series(exposition: str, log: str) -> None:
    """Every series the serving rules read for MLServer is in its exposition, with the label values the rules
    filter on (the infer route's path template, a status code)."""
    m = rules.RUNTIME_METRICS["mlflow"]
    lines = [ln for ln in exposition.splitlines() if not ln.startswith("#")]
    for name in m.names:
        series = [ln for ln in lines if ln.startswith(name + "{")]
        assert series, f"MLServer emits no {name}:\n{exposition[:2000]}\n{log[-2000:]}"
        assert any('path="/v2/models/{model_name}/infer"' in ln and 'status_code="200"' in ln for ln in series), \
            series


def _series(exposition: str, extra: str) -> list[dict[str, str]]:
    """The job's pushed lines as promtool input series, with the labels the Pushgateway scrape keeps."""
    out = []
    for line in exposition.splitlines():
        if line.startswith("#"):
            continue
        metric, value = line.rsplit(" ", 1)
        out.append({"series": metric[:-1] + f",{extra}}}", "values": f"{value}x60"})
    return out


def test_the_monitoring_jobs_metrics_are_the_ones_the_rules_read(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: apt-get install prometheus (see .ci/run)"
    job: dict[str, Any] = {}
    exec(compile(SCRIPT, "monitor.py", "exec"), job)  # the ConfigMap's script, not a copy of it
    now = 3600.0
    bad = job["exposition"]("churn", {"feature_drift": {"tenure": 0.6}, "prediction_drift": 0.5, "fairness": {
        "gender": {"demographic_parity_difference": 0.25, "disparate_impact_ratio": 0.7}}}, now)
    good = job["exposition"]("churn", {"feature_drift": {"tenure": 0.05}, "prediction_drift": 0.02, "fairness": {
        "gender": {"demographic_parity_difference": 0.01, "disparate_impact_ratio": 0.97}}}, now)
    pushed = {line.split("{", 1)[0] for line in bad.splitlines() if not line.startswith("#")}
    assert pushed == set(rules.CONTRACT_METRICS), "the job pushes exactly the documented contract"
    cfg = ServingConfig(enabled=True, models=[ServedModelConfig(name="churn", flavour="mlflow",
                                                                 artifact_path="artifacts/1/models/m/artifacts")])
    (tmp_path / "serving.rules.yaml").write_text(yaml.safe_dump({"groups": rules.rule_groups(cfg, "serving", 0.3)}))
    alerts = ["ServedModelFeatureDrift", "ServedModelPredictionDrift", "ModelDemographicParity", "ModelDisparateImpact"]
    labels = 'job="mlops-model-monitor",instance="pgw:9091"'
    tests = [{"interval": "1m", "input_series": _series(report, labels), "alert_rule_test": [
        {"eval_time": "30m", "alertname": a, "exp_alerts": [{"exp_labels": _labels(a)}] if fires else []}
        for a in alerts]} for report, fires in ((bad, True), (good, False))]
    static = {"runbook": "README: Serving"}
    for case in tests:
        for check in case["alert_rule_test"]:
            for alert in check["exp_alerts"]:
                rule = next(r for g in rules.rule_groups(cfg, "serving", 0.3) for r in g["rules"]
                            if r["alert"] == check["alertname"])
                alert["exp_annotations"] = {**static, "summary": rule["annotations"]["summary"]}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({"rule_files": ["serving.rules.yaml"], "tests": tests}))
    result = subprocess.run([promtool, "test", "rules", "t.yaml"], cwd=tmp_path, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _labels(alert: str) -> dict[str, str]:
    extra = {"ServedModelFeatureDrift": {"feature": "tenure"}, "ModelDemographicParity": {"protected_attribute": "gender"},
             "ModelDisparateImpact": {"protected_attribute": "gender"}}.get(alert, {})
    return {"severity": "warning", "model": "churn", **extra}
