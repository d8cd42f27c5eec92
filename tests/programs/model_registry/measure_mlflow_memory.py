"""Measure the memory of the MLflow tracking server the platform renders (issue 14 #3, #14).

Run with a Python that has the pinned `mlflow` plus `psutil` and `psycopg2-binary`:

    python -m venv /tmp/venv-mlflow && /tmp/venv-mlflow/bin/pip install mlflow==3.14.0 psycopg2-binary psutil
    /tmp/venv-mlflow/bin/python tests/programs/model_registry/measure_mlflow_memory.py \\
        --backend postgresql://postgres@127.0.0.1:55432/mlflow --s3-endpoint http://127.0.0.1:55055 \\
        --workers 1 2 4 --basic-auth-workers 2 --write mlops_infra/registry/mlflow_memory.json

For every run it starts `mlflow server` with `MlflowModelRegistryConfig.server_argv()` and `SERVER_ENV` (the exact
args and env of the pod; only the port and the Prometheus directory are local), waits for /health, samples
the summed RSS (and PSS) of the whole process tree every 0.25 s while idle and during a burst of REST calls
(experiments, runs, batched metrics, searches, model registry, proxied artifact upload and download to S3),
then stops the tree. It also runs the metrics sidecar (METRICS_EXPORTER_SCRIPT) and checks that it serves
MLflow's request counters, and that under basic auth the server's own /metrics answers 401.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from mlops_infra.registry.config import (
    FLASK_SECRET_KEY_ENV,
    METRICS_EXPORTER_SCRIPT,
    PROMETHEUS_DIR,
    SERVER_ENV,
    IngressConfig,
    MlflowModelRegistryConfig,
    TrackingServerConfig,
)

ADMIN = ("admin", "measure-admin-password-1")


def tree_memory(root: psutil.Process) -> tuple[float, float, int]:
    """(RSS MiB, PSS MiB, process count) summed over `root` and all its descendants."""
    rss = pss = 0.0
    procs = [root, *root.children(recursive=True)]
    for proc in procs:
        try:
            info = proc.memory_full_info()
            rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss / 2**20, pss / 2**20, len(procs)


class Sampler(threading.Thread):
    def __init__(self, root: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.root, self.peak_rss, self.peak_pss, self.procs, self.stop = root, 0.0, 0.0, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rss, pss, n = tree_memory(self.root)
            self.peak_rss, self.peak_pss, self.procs = max(self.peak_rss, rss), max(self.peak_pss, pss), max(self.procs, n)
            time.sleep(0.25)


def call(base: str, method: str, path: str, body: bytes | dict[str, Any] | None = None, auth: bool = False,
         raw: bool = False) -> Any:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(base + path, data=data, method=method)
    if isinstance(body, dict):
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode())
    with urllib.request.urlopen(req, timeout=60) as resp:
        payload = resp.read()
    return payload if raw else (json.loads(payload) if payload else {})


def client_work(base: str, auth: bool, seconds: float, errors: list[str]) -> None:
    """One client: an experiment, runs with batched metrics, searches, a registered model, artifacts."""
    end, blob = time.time() + seconds, os.urandom(512 * 1024)
    try:
        exp = call(base, "POST", "/api/2.0/mlflow/experiments/create", {"name": f"m-{uuid.uuid4().hex}"}, auth)
        model = f"model-{uuid.uuid4().hex[:8]}"
        call(base, "POST", "/api/2.0/mlflow/registered-models/create", {"name": model}, auth)
        while time.time() < end:
            run = call(base, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp["experiment_id"]}, auth)["run"]
            run_id = run["info"]["run_id"]
            metrics = [{"key": f"m{i % 10}", "value": i * 0.1, "timestamp": int(time.time() * 1000), "step": i}
                       for i in range(200)]
            call(base, "POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": run_id, "metrics": metrics,
                 "params": [{"key": f"p{i}", "value": str(i)} for i in range(20)]}, auth)
            call(base, "POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]],
                 "max_results": 200}, auth)
            path = f"{exp['experiment_id']}/{run_id}/artifacts/model.bin"
            call(base, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}", blob, auth)
            call(base, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{path}", auth=auth, raw=True)
            call(base, "GET", f"/api/2.0/mlflow-artifacts/artifacts?path={exp['experiment_id']}/{run_id}/artifacts",
                 auth=auth)
            call(base, "POST", "/api/2.0/mlflow/model-versions/create", {"name": model, "source": run["info"][
                 "artifact_uri"] + "/model.bin", "run_id": run_id}, auth)
            call(base, "GET", "/", auth=auth, raw=True)
    except (urllib.error.URLError, KeyError, TimeoutError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}")  # log: <work>/server.log
        try:
            if call(base, "GET", "/health", raw=True) == b"OK":
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(1)
    raise RuntimeError("mlflow server never became healthy")


def measure(opts: argparse.Namespace, workers: int, basic_auth: bool, job_execution: bool) -> dict[str, Any]:
    # model_construct: validation reads the measurement this script writes.
    cfg = MlflowModelRegistryConfig.model_construct(server=TrackingServerConfig.model_construct(workers=workers),
                                              ingress=IngressConfig.model_construct(enabled=basic_auth, auth="basic"))
    work = Path(tempfile.mkdtemp(prefix="mlflow-measure-"))
    prom = work / "prometheus"  # an emptyDir in the pod: exists before either container starts
    prom.mkdir()
    bucket = f"mlflow-measure-{uuid.uuid4().hex[:8]}"
    argv = [str(a) for a in cfg.server_argv(opts.backend, f"s3://{bucket}/artifacts")]
    argv[argv.index("--port") + 1] = str(opts.port)
    argv[argv.index("--expose-prometheus") + 1] = str(prom)
    assert PROMETHEUS_DIR not in argv
    env = {**os.environ, **SERVER_ENV, "HOME": str(work), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "MLFLOW_S3_ENDPOINT_URL": opts.s3_endpoint}
    if job_execution:
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "true"
    if basic_auth:
        ini = work / "basic_auth.ini"
        ini.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = {opts.backend}\nadmin_username = "
                       f"{ADMIN[0]}\nadmin_password = {ADMIN[1]}\nauthorization_function = "
                       "mlflow.server.auth:authenticate_request_basic_auth\n")
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
        env[FLASK_SECRET_KEY_ENV] = uuid.uuid4().hex  # the pod reads it from the auth Secret
    import boto3  # mlflow's dependency, installed beside it
    boto3.client("s3", endpoint_url=opts.s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    base = f"http://127.0.0.1:{opts.port}"
    log = (work / "server.log").open("wb")  # closed in `finally`
    server = subprocess.Popen([opts.mlflow, *argv], env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=log)
    exporter = subprocess.Popen([sys.executable, "-c", METRICS_EXPORTER_SCRIPT], env={
        **env, "PROMETHEUS_MULTIPROC_DIR": str(prom), "METRICS_PORT": str(opts.metrics_port)})
    try:
        try:
            wait_healthy(base, server)
        except RuntimeError:
            sys.stderr.write((work / "server.log").read_text()[-4000:])
            raise
        root = psutil.Process(server.pid)
        time.sleep(opts.settle)
        idle = Sampler(root)
        idle.start()
        time.sleep(opts.idle_seconds)
        idle.stop.set()
        idle.join()
        burst, errors = Sampler(root), []
        burst.start()
        clients = [threading.Thread(target=client_work, args=(base, basic_auth, opts.burst_seconds, errors))
                   for _ in range(opts.clients)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        burst.stop.set()
        burst.join()
        scrape = call(f"http://127.0.0.1:{opts.metrics_port}", "GET", "/metrics", raw=True).decode()
        server_metrics_status = 200
        try:
            call(base, "GET", "/metrics", raw=True)
        except urllib.error.HTTPError as exc:
            server_metrics_status = exc.code
        exporter_rss = psutil.Process(exporter.pid).memory_info().rss / 2**20
        return {"workers": workers, "app": "basic-auth" if basic_auth else "default", "jobExecution": job_execution,
                "processes": burst.procs, "idleRssMib": round(idle.peak_rss, 1), "idlePssMib": round(idle.peak_pss, 1),
                "burstRssMib": round(burst.peak_rss, 1), "burstPssMib": round(burst.peak_pss, 1),
                "clients": opts.clients, "burstSeconds": opts.burst_seconds, "clientErrors": errors[:3],
                "metricsSidecarRssMib": round(exporter_rss, 1),
                "metricsSidecarServesRequestCounter": "mlflow_http_request_total" in scrape,
                "serverMetricsStatus": server_metrics_status}
    finally:
        for proc in (exporter, server):
            proc.terminate()
        for proc in (exporter, server):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for child in psutil.Process().children(recursive=True):  # orphans of the server we started
            child.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlflow", default=str(Path(sys.executable).with_name("mlflow")))
    parser.add_argument("--backend", required=True, help="SQLAlchemy URI of an empty-or-MLflow Postgres database")
    parser.add_argument("--s3-endpoint", required=True, help="S3 endpoint (moto server) for the artifacts")
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--basic-auth-workers", type=int, nargs="*", default=[])
    parser.add_argument("--job-execution-workers", type=int, nargs="*", default=[],
                        help="Also measure MLflow's default (job execution on) for these worker counts")
    parser.add_argument("--port", type=int, default=55000)
    parser.add_argument("--metrics-port", type=int, default=55102)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--settle", type=float, default=15)
    parser.add_argument("--idle-seconds", type=float, default=15)
    parser.add_argument("--burst-seconds", type=float, default=30)
    parser.add_argument("--write", type=Path)
    opts = parser.parse_args()
    import mlflow

    runs = [measure(opts, w, False, False) for w in opts.workers]
    runs += [measure(opts, w, True, False) for w in opts.basic_auth_workers]
    runs += [measure(opts, w, False, True) for w in opts.job_execution_workers]
    result = {
        "mlflowVersion": mlflow.__version__, "measuredOn": datetime.date.today().isoformat(),
        "method": "tests/programs/model_registry/measure_mlflow_memory.py: summed RSS/PSS of the mlflow server "
                  "process tree (peak, 0.25 s samples), idle and under a burst of REST clients; Postgres "
                  f"{opts.backend.split('@')[-1].split('/')[0]} local, S3 artifacts on moto; python "
                  f"{sys.version.split()[0]}, {sys.platform}",
        "environment": ", ".join(f"{dist} {importlib.metadata.version(dist)}" for dist in (
            "mlflow", "SQLAlchemy", "psycopg2-binary", "prometheus-flask-exporter", "boto3")),
        "sizing": "limit = max burstRssMib over apps for the configured workers (job execution off) x MEMORY_MARGIN, "
                  "rounded up to 64 MiB (mlops_infra/registry/config.py). RSS summed over processes "
                  "over-counts shared pages, so it bounds the cgroup's charge from above; PSS is shown for comparison",
        "runs": runs,
    }
    text = json.dumps(result, indent=2) + "\n"
    print(text)
    if opts.write:
        opts.write.write_text(text)


if __name__ == "__main__":
    main()
