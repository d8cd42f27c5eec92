"""Model serving against real software.

- MLServer 1.7.1 with its MLflow runtime and the image's own MLflow 2.19.0, scikit-learn and numpy (`.venv-mlserver`,
  .ci/venvs/mlserver.sh) serves a tiny scikit-learn model that the registry's MLflow 3.14 client logged as the
  README says (`.venv-mlserver-train`) and registered through a tracking server started with the argv the registry's
  pod runs (`--serve-artifacts --artifacts-destination s3://<bucket>/artifacts`, on sqlite instead of RDS) into a
  moto S3 bucket: the test resolves the registered version as docs/serving.md tells users to (the
  `mlflow-artifacts:/` download URI to `artifactPath`), renders the InferenceService from it, downloads its
  storageUri as KServe's storage initializer would, starts MLServer with the environment the ServingRuntime renders, asks for a V2
  prediction, then scrapes MLServer's metrics port and checks the series the serving rules read exist there.
- The monitoring job's script computes drift and fairness from an input set (reference and logged predictions);
  promtool evaluates the serving rules on exactly what it pushes: the alerts fire on a biased set, clear on a fair
  one, and the missing-metric alert fires until the first push.
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

from mlops_infra.registry.artifacts import ARTIFACT_PREFIX
from mlops_infra.registry.config import MlflowModelRegistryConfig
from mlops_infra.serving import manifests, rules
from mlops_infra.serving.config import RuntimesConfig, ServedModelConfig, ServingConfig
from mlops_infra.serving.monitor_job import SCRIPT
from mlops_infra.serving.runtimes import MLFLOW_SKLEARN_SERIALIZATION, MLSERVER_IMAGE_PACKAGES, MODEL_DIR, serving_runtime_spec

from .services import consumer_python, free_port, moto_server, wait_http

pytestmark = pytest.mark.integration
BUCKET = "mlops-staging-registry-artifacts"
MOTO = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOG_AND_REGISTER = """
import sys, mlflow, pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
mlflow.set_tracking_uri(sys.argv[1])
exp = mlflow.create_experiment("churn")
X = pd.DataFrame({"tenure": [0.0, 1.0, 2.0, 3.0]})
with mlflow.start_run(experiment_id=exp):
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X, [0, 0, 1, 1]), name="model", input_example=X.head(2),
                                    serialization_format=sys.argv[2])
version = mlflow.register_model(info.model_uri, "churn").version
print(MlflowClient().get_model_version_download_uri("churn", version))
"""


def _registry(train: Path, work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """The tracking server as the registry's pod runs it (MlflowModelRegistryConfig.server_argv; sqlite, loopback)."""
    argv = [str(a) for a in MlflowModelRegistryConfig().server_argv(
        f"sqlite:///{work}/mlflow.db", f"s3://{BUCKET}/{ARTIFACT_PREFIX}")]
    assert argv[argv.index("--artifacts-destination") - 1] == "--serve-artifacts"
    port = free_port()
    argv[argv.index("--port") + 1], argv[argv.index("--host") + 1] = str(port), "127.0.0.1"
    # Metrics only (the image's prometheus-flask-exporter, which the client venv lacks): not how artifacts are stored.
    metrics = argv.index("--expose-prometheus")
    del argv[metrics:metrics + 2]
    with (work / "registry.log").open("wb") as log:
        proc = subprocess.Popen([str(train.with_name("mlflow")), *argv], cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{uri}/health", 180, proc)
    except (RuntimeError, TimeoutError) as exc:
        os.killpg(proc.pid, 15)
        raise AssertionError(f"{exc}\n{(work / 'registry.log').read_text()[-3000:]}") from None
    return proc, uri


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


def _version(python: Path, package: str) -> str:
    out = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_the_consumer_venvs_carry_the_image_and_registry_versions() -> None:
    """The runtime side has the MLServer image's packages, the logging side the registry's MLflow."""
    serve, train = consumer_python("mlserver"), consumer_python("mlserver-train")
    for package, version in MLSERVER_IMAGE_PACKAGES.items():
        assert _version(serve, package) == version, package
    assert _version(train, "mlflow").startswith("3."), "the registry's MLflow logs the model"
    for package in ("scikit-learn", "numpy"):
        assert _version(train, package) == MLSERVER_IMAGE_PACKAGES[package], package


def test_mlserver_serves_the_registered_model_from_the_rendered_storage_uri(tmp_path: Path) -> None:
    python, train = consumer_python("mlserver"), consumer_python("mlserver-train")
    started = time.monotonic()
    with moto_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, **MOTO).create_bucket(Bucket=BUCKET)
        env = {**os.environ, "MLFLOW_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        registry, tracking_uri = _registry(train, tmp_path, env)
        try:
            logged = subprocess.run([str(train), "-c", LOG_AND_REGISTER, tracking_uri, MLFLOW_SKLEARN_SERIALIZATION],
                                    env={k: v for k, v in env.items() if k != "MLFLOW_S3_ENDPOINT_URL"},
                                    capture_output=True, text=True, check=False, timeout=300)
        finally:
            os.killpg(registry.pid, 15)  # the server and its uvicorn workers
            registry.wait(timeout=30)
        assert logged.returncode == 0, logged.stderr[-3000:]
        download_uri = logged.stdout.strip().splitlines()[-1]
        # docs/serving.md step 2: the served-artifacts URI, and the key prefix `artifacts/` + what follows it
        assert download_uri.startswith("mlflow-artifacts:/"), download_uri
        artifact_path = f"{ARTIFACT_PREFIX}/{download_uri.removeprefix('mlflow-artifacts:/')}"
        assert artifact_path.endswith("/artifacts") and "/models/" in artifact_path, artifact_path
        model = ServedModelConfig(name="churn", flavour="mlflow", artifact_path=artifact_path)
        isvc = manifests.inference_service(model, bucket=BUCKET, namespace="serving", service_account="sa")
        storage_uri = isvc["spec"]["predictor"]["model"]["storageUri"]
        assert storage_uri == f"s3://{BUCKET}/{artifact_path}"
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


class _Pushgateway:
    """A local stand-in for the Pushgateway's PUT API: records each pushed body by path."""

    def __init__(self) -> None:
        import http.server
        import threading
        pushes: list[tuple[str, str]] = []
        self.pushes = pushes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                pushes.append((self.path, self.rfile.read(int(self.headers["Content-Length"])).decode()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _write_inputs(root: Path, current: list[dict[str, Any]]) -> Path:
    """The job's inputs as the init container leaves them: reference.csv and predictions/<day>/*.csv."""
    import csv
    reference = [{"tenure": i % 50, "gender": "f" if i % 2 else "m", "prediction": (i // 2) % 2} for i in range(200)]
    (root / "predictions").mkdir(parents=True)
    reference = [{**r, "request_id": f"ref-{i}"} for i, r in enumerate(reference)]
    current = [{**r, "request_id": f"req-{i}"} for i, r in enumerate(current)]  # shared, but not a feature
    (root / "predictions" / "2026-12-06").mkdir()
    for path, rows in ((root / "reference.csv", reference), (root / "predictions" / "2026-12-06" / "a.csv", current)):
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["tenure", "gender", "request_id", "prediction"])
            writer.writeheader()
            writer.writerows(rows)
    return root


def _run_job(tmp: Path, name: str, current: list[dict[str, Any]] | None) -> tuple[int, list[tuple[str, str]]]:
    """The ConfigMap's script, run as the CronJob's container runs it (its env), against a local Pushgateway."""
    inputs = _write_inputs(tmp / name, current) if current is not None else tmp / name
    (tmp / "script").mkdir(exist_ok=True)
    (tmp / "script" / "monitor.py").write_text(SCRIPT)
    gateway = _Pushgateway()
    try:
        done = subprocess.run(["python3", str(tmp / "script" / "monitor.py")], capture_output=True, text=True,
                              timeout=60, env={"PATH": os.environ["PATH"], "MODEL": "churn",
                                               "PUSHGATEWAY_URL": gateway.url, "MONITOR_INPUTS": str(inputs),
                                               "PROTECTED_ATTRIBUTES": "gender", "FEATURES": "tenure"})
    finally:
        gateway.server.shutdown()
    return done.returncode, gateway.pushes


def _values(body: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
            if line and not line.startswith("#")}


def test_the_monitoring_job_computes_drift_and_fairness_and_the_alerts_fire_and_clear(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: apt-get install prometheus (see .ci/run)"
    biased = [{"tenure": 40 + i % 10, "gender": "f" if i % 2 else "m",
               "prediction": 1 if i % 2 or i % 10 == 0 else 0} for i in range(200)]
    fair = [{"tenure": i % 50, "gender": "f" if i % 2 else "m", "prediction": (i // 2) % 2} for i in range(200)]
    code, pushes = _run_job(tmp_path, "missing", None)
    assert code == 1 and pushes == [], "no inputs: nothing pushed, the Job fails"
    runs = {}
    for name, rows in (("biased", biased), ("fair", fair)):
        code, pushes = _run_job(tmp_path, name, rows)
        assert code == 0
        ((path, body),) = pushes
        assert path == "/metrics/job/mlops-model-monitor/model/churn"
        runs[name] = _values(body)
    pushed = {key.split("{", 1)[0] for key in runs["biased"]}
    assert pushed == set(rules.CONTRACT_METRICS), "the job pushes exactly the documented contract"
    dpd = 'mlops_fairness_demographic_parity_difference{model="churn",protected_attribute="gender"}'
    drift = 'mlops_feature_drift_score{feature="tenure",model="churn"}'
    assert runs["biased"][dpd] == pytest.approx(0.8) and runs["fair"][dpd] == 0.0
    assert runs["biased"][drift] > 0.5 and runs["fair"][drift] == 0.0
    assert not [k for k in runs["biased"] if "request_id" in k], "a shared non-feature column is no feature"
    _promtool_fire_and_clear(tmp_path, promtool, runs)


def _promtool_fire_and_clear(tmp_path: Path, promtool: str, runs: dict[str, dict[str, float]]) -> None:
    """Nothing for an hour, the biased push for an hour, then the fair one: ModelMonitorMissing fires first, the
    fairness alerts fire on the biased values and clear on the fair ones."""
    cfg = ServingConfig(enabled=True, models=[ServedModelConfig(
        name="churn", flavour="mlflow", artifact_path="artifacts/1/models/m/artifacts", protected_attributes=["gender"])])
    groups = rules.rule_groups(cfg, "serving")
    (tmp_path / "serving.rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    labels = 'job="mlops-model-monitor",instance="pgw:9091"'
    series = []
    for key in runs["biased"]:
        values = ("_x60 3600+60x59 7200+60x60" if key.startswith(rules.LAST_RUN_METRIC) else
                  f"_x60 {runs['biased'][key]}x59 {runs['fair'][key]}x60")
        series.append({"series": key[:-1] + f",{labels}}}", "values": values})
    fairness = ["ModelDemographicParity", "ModelDisparateImpact"]
    checks = [(45, {"ModelMonitorMissing"}), (110, set(fairness)), (175, set())]
    tests = [{"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": f"{minute}m", "alertname": alert,
         "exp_alerts": [_expected(groups, alert)] if alert in firing else []}
        for minute, firing in checks for alert in [*fairness, "ModelMonitorMissing", "ModelMonitorStale"]]}]
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({"rule_files": ["serving.rules.yaml"], "tests": tests}))
    result = subprocess.run([promtool, "test", "rules", "t.yaml"], cwd=tmp_path, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _expected(groups: list[dict[str, Any]], alert: str) -> dict[str, Any]:
    rule = next(r for g in groups for r in g["rules"] if r["alert"] == alert)
    extra = {"ModelDemographicParity": {"protected_attribute": "gender"},
             "ModelDisparateImpact": {"protected_attribute": "gender"},
             "ModelMonitorMissing": {"job": "mlops-model-monitor"}}.get(alert, {})
    return {"exp_labels": {"severity": "warning", "model": "churn", **extra},
            "exp_annotations": {"runbook": "README: Serving", "summary": rule["annotations"]["summary"]}}


def test_the_monitoring_job_streams_a_large_input_within_its_memory_limit(tmp_path: Path) -> None:
    """300k logged rows x 12 columns (about 30 MB of CSV): the script's peak RSS stays well under the container's
    256Mi limit, because rows are counted into histograms as they are read."""
    import csv
    import random
    rng = random.Random(7)
    names = [f"f{i}" for i in range(9)] + ["request_id", "gender", "prediction"]

    def row(i: int, shift: float) -> list[Any]:
        return [round(rng.gauss(shift, 1), 4) for _ in range(9)] + [f"req-{i:08d}", "fm"[i % 2], i % 2]
    inputs = tmp_path / "inputs"
    (inputs / "predictions" / "2026-12-06").mkdir(parents=True)
    for path, count, shift in ((inputs / "reference.csv", 20_000, 0.0),
                               (inputs / "predictions" / "2026-12-06" / "a.csv", 300_000, 0.5)):
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names)
            writer.writerows(row(i, shift) for i in range(count))
    script = tmp_path / "monitor.py"
    script.write_text(SCRIPT)
    # VmHWM: the peak RSS of this process image (ru_maxrss would carry the forking pytest's over the exec).
    wrapper = ("import runpy, sys\n"
               "try:\n    runpy.run_path(sys.argv[1], run_name='__main__')\n"
               "finally:\n    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
               "    print('maxrss_kb', hwm, file=sys.stderr)\n")
    gateway = _Pushgateway()
    try:
        done = subprocess.run(["python3", "-c", wrapper, str(script)], capture_output=True, text=True, timeout=300,
                              env={"PATH": os.environ["PATH"], "MODEL": "churn", "PUSHGATEWAY_URL": gateway.url,
                                   "MONITOR_INPUTS": str(inputs), "PROTECTED_ATTRIBUTES": "gender",
                                   "FEATURES": ",".join(names[:9])})
    finally:
        gateway.server.shutdown()
    assert done.returncode == 0, done.stderr
    ((_, body),) = gateway.pushes
    values = _values(body)
    assert len([k for k in values if k.startswith("mlops_feature_drift_score")]) == 9
    assert values['mlops_feature_drift_score{feature="f0",model="churn"}'] > 0.1  # the logged set is shifted
    maxrss_mb = int(done.stderr.split("maxrss_kb")[-1].split()[0]) / 1024
    print(f"monitor job peak RSS: {maxrss_mb:.1f} MiB")
    assert maxrss_mb < 64, maxrss_mb
