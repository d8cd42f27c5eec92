"""Prefect, run for real with what the platform generates (outputs of the all-engines variant plan): a local Prefect
server (SQLite, started here) accepts the work pool created from `prefectBaseJobTemplate` (the server validates
that every placeholder is a declared variable), `prefect deploy --all` deploys the example flow
(examples/pipelines/prefect/flows/train.py) with `prefectProjectYaml`, and the real Kubernetes worker's job
configuration renders the deployment's Job from the pool's template and the deployment's job variables.

What differs from the cluster: the server is local with SQLite (the platform's runs on RDS Postgres) and no worker
submits the Job (no cluster). Prefect runs in its own virtualenv (`.venv-prefect`, .ci/venvs/prefect.sh).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .plans import plan
from .services import consumer_python, free_port, wait_http

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "examples" / "pipelines" / "prefect" / "flows"
RENDER = """
import asyncio, json, sys
from prefect.client.orchestration import get_client
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

async def main():
    async with get_client() as client:
        deployment = await client.read_deployment_by_name(sys.argv[1])
        pool = await client.read_work_pool(deployment.work_pool_name)
    config = await KubernetesWorkerJobConfiguration.from_template_and_values(
        pool.base_job_template, deployment.job_variables)
    print(json.dumps({"pool": pool.name, "type": pool.type, "job_variables": deployment.job_variables,
                      "namespace": config.namespace, "env": config.env, "manifest": config.job_manifest}))

asyncio.run(main())
"""


def _env(home: Path, api: str | None = None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PREFECT_HOME": str(home / ".prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false",
           "PREFECT_SERVER_UI_ENABLED": "false", "DO_NOT_TRACK": "1"}
    if api:
        env["PREFECT_API_URL"] = api
    return env


@contextlib.contextmanager
def prefect_server(python: str, home: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([python, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_http(f"{api}/health", 240, proc)
        yield api
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(args[1:])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_work_pool_from_the_generated_template_and_prefect_deploy(tmp_path: Path) -> None:
    outputs = plan("variant-pipelines").outputs
    python = str(consumer_python("prefect"))
    project = yaml.safe_load(outputs["prefectProjectYaml"])
    (tmp_path / "prefect.yaml").write_text(outputs["prefectProjectYaml"])
    (tmp_path / "template.json").write_text(outputs["prefectBaseJobTemplate"])
    shutil.copytree(FLOWS, tmp_path / "flows")
    home = tmp_path / "home"
    home.mkdir()
    with prefect_server(python, home) as api:
        env = _env(home, api)
        _run([python, "-m", "prefect", "work-pool", "create", outputs["prefectWorkPool"], "--type", "kubernetes",
              "--base-job-template", "template.json"], tmp_path, env)
        _run([python, "-m", "prefect", "--no-prompt", "deploy", "--all"], tmp_path, env)
        rendered: dict[str, Any] = json.loads(_run([python, "-c", RENDER, "train/train"], tmp_path, env))
    _check(rendered, outputs, project)


def _check(rendered: dict[str, Any], outputs: dict[str, Any], project: dict[str, Any]) -> None:
    (deployment,) = project["deployments"]
    assert (rendered["pool"], rendered["type"]) == (outputs["prefectWorkPool"], "kubernetes")
    assert rendered["job_variables"] == deployment["work_pool"]["job_variables"]
    assert rendered["namespace"] == outputs["prefectNamespace"]
    spec = rendered["manifest"]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "prefect-flows"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    (container,) = spec["containers"]
    assert container["image"] == deployment["work_pool"]["job_variables"]["image"]
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert limits == requests and str(limits["nvidia.com/gpu"]) == "1"  # the deployment's gpu_limit: 1
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "MLFLOW_TRACKING_URI" in rendered["env"] and rendered["env"]["HOME"] == "/scratch"
