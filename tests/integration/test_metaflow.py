"""Metaflow, run for real with the config the platform generates (`metaflowConfig` of the all-engines variant plan):
the example flow (examples/pipelines/metaflow/train_flow.py) runs locally with that config's S3 datastore, whose
bucket (same name) lives on a moto S3 server, and `argo-workflows create --only-json` compiles it to the Argo
WorkflowTemplate the platform's Argo would run.

What differs from the cluster, and nothing else: METAFLOW_S3_ENDPOINT_URL points at moto (with test credentials);
the local run records metadata locally (METAFLOW_DEFAULT_METADATA=local: the metadata service, a container image,
is not on PyPI), while the Argo compilation keeps the config's `service` metadata. Metaflow runs in its own
virtualenv (`.venv-metaflow`, built by .ci/venvs/metaflow.sh at MetaflowConfig.version).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.pipelines.test_metaflow import step_image_workdir

from .plans import plan
from .services import consumer_python, moto_server

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "examples" / "pipelines" / "metaflow" / "train_flow.py"
READ_BACK = """
from metaflow import Flow, namespace
namespace(None)
run = Flow("TrainFlow").latest_successful_run
print(run["train"].task.data.model["mean"])
"""


def _env(home: Path, s3: str, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "METAFLOW_HOME": str(home),
            "USERNAME": "ci", "METAFLOW_S3_ENDPOINT_URL": s3, "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", **extra}


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(args[1:])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_generated_config_runs_a_flow_on_the_s3_datastore_and_compiles_to_argo(tmp_path: Path) -> None:
    config: dict[str, str] = json.loads(plan("variant-pipelines").outputs["metaflowConfig"])
    root = config["METAFLOW_DATASTORE_SYSROOT_S3"]
    bucket, prefix = root.removeprefix("s3://").split("/", 1)
    python = str(consumer_python("metaflow"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps(config, indent=4, sort_keys=True))
    shutil.copy(FLOW, tmp_path / "train_flow.py")
    with moto_server() as s3:
        client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test")
        client.create_bucket(Bucket=bucket)
        _run([python, "train_flow.py", "--no-pylint", "run"], tmp_path,
             _env(home, s3, METAFLOW_DEFAULT_METADATA="local"))
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert keys and all(k.startswith(f"{prefix}/") for k in keys), keys[:5]
        assert any(k.startswith(f"{prefix}/TrainFlow/") and "/train/" in k for k in keys)
        # Artifacts read back from S3 by the Metaflow client (the same config).
        out = _run([python, "-c", READ_BACK], tmp_path, _env(home, s3, METAFLOW_DEFAULT_METADATA="local"))
        assert out.strip().splitlines()[-1] == "4.5"
        workflow = _argo_json(python, tmp_path, _env(home, s3))
    _check_workflow(workflow, config)


def _argo_json(python: str, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """`argo-workflows create --only-json`: the WorkflowTemplate on stdout after Metaflow's banner lines."""
    out = _run([python, "train_flow.py", "--no-pylint", "argo-workflows", "create", "--only-json"], cwd, env)
    document: dict[str, Any] = json.loads(out[out.index("{"):])
    return document


def _check_workflow(workflow: dict[str, Any], config: dict[str, str]) -> None:
    assert workflow["kind"] == "WorkflowTemplate"
    assert workflow["metadata"]["namespace"] == config["METAFLOW_KUBERNETES_NAMESPACE"]
    (train,) = [t for t in workflow["spec"]["templates"] if t.get("name") == "train"]
    assert train["serviceAccountName"] == config["METAFLOW_KUBERNETES_SERVICE_ACCOUNT"]
    assert train["tolerations"] == json.loads(config["METAFLOW_KUBERNETES_TOLERATIONS"])
    selector = dict(kv.split("=", 1) for kv in config["METAFLOW_KUBERNETES_NODE_SELECTOR"].split(","))
    assert train["nodeSelector"] == selector
    container = train["container"]
    assert container["image"] == config["METAFLOW_KUBERNETES_CONTAINER_IMAGE"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"  # @resources(gpu=1)
    assert {e["secretRef"]["name"] for e in container["envFrom"]} == {config["METAFLOW_KUBERNETES_SECRETS"]}
    # No step installs packages from the internet: the bootstrap's pip install is guarded by a variable the
    # platform's step image sets, and that image has every package the guarded command names.
    command = " ".join([*(container.get("command") or []), *(container.get("args") or [])])
    guarded = re.search(r"if \[ -z \$METAFLOW_SKIP_INSTALL_DEPENDENCIES \]; then ([^;]*pip install[^;]*); fi", command)
    assert guarded, "the step bootstrap's pip install is not guarded by METAFLOW_SKIP_INSTALL_DEPENDENCIES"
    dockerfile = (ROOT / "images" / "metaflow-step" / "Dockerfile").read_text()
    assert re.search(r"^ENV METAFLOW_SKIP_INSTALL_DEPENDENCIES=1$", dockerfile, re.M)
    packages = [w for w in guarded.group(1).split("pip install", 1)[1].split() if not w.startswith("-")]
    assert packages and not [p for p in packages if f'"{p}==' not in dockerfile], packages
    # The step starts in the image's WORKDIR (no workingDir here), which its user owns, and nothing mounts over it.
    assert "mkdir -p $PWD/.logs" in command and "mkdir metaflow && cd metaflow && mkdir .metaflow" in command
    workdir, _ = step_image_workdir()
    assert container.get("workingDir") is None
    mounts = [m["mountPath"].rstrip("/") + "/" for m in container.get("volumeMounts") or []]
    assert mounts and not [m for m in mounts if (workdir + "/").startswith(m) or m.startswith(workdir + "/")]
    env = {e["name"]: e.get("value") for e in container["env"]}
    for key in ("METAFLOW_DATASTORE_SYSROOT_S3", "METAFLOW_SERVICE_URL", "METAFLOW_DEFAULT_DATASTORE"):
        assert env[key] == config[key], key
