"""The real Kubeflow Pipelines SDK (the backend's release; `.venv-kfp`, built by .ci/venvs/kfp.sh) compiles the
example pipeline (examples/pipelines/kfp) against the all-engines plan's stack outputs: the GPU step asks for a GPU
on the training pool (node selector and tolerations from `kfpGpuPlacement`) and every step gets the platform's
MLflow tracking URI and feature-server URL."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from mlops_infra.pipelines.config import KFP_VERSION
from tests.integration.plans import plan
from tests.integration.services import consumer_python

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "examples" / "pipelines" / "kfp" / "train_pipeline.py"


def test_the_example_pipeline_compiles_with_gpu_placement_and_platform_env() -> None:
    outputs = plan("variant-pipelines").outputs
    keys = ("kfpGpuPlacement", "mlflowTrackingUri", "featureStoreFeatureServerUrl")
    with tempfile.TemporaryDirectory(prefix="it-kfp-") as tmp:
        platform, out = Path(tmp) / "platform.json", Path(tmp) / "pipeline.yaml"
        platform.write_text(json.dumps({k: outputs[k] for k in keys}))
        proc = subprocess.run([str(consumer_python("kfp")), str(PIPELINE), str(platform), str(out)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-4000:]
        docs = list(yaml.safe_load_all(out.read_text()))
    spec, platform_spec = docs[0], docs[1]
    executors = spec["deploymentSpec"]["executors"]
    train = next(e["container"] for name, e in executors.items() if "train" in name)
    assert train["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert str(train["resources"]["accelerator"]["resourceCount"]) == "1"
    # No step pip-installs at start (step pods reach no package index): the image carries kfp.
    for name, executor in executors.items():
        command = " ".join([*executor["container"].get("command", []), *executor["container"].get("args", [])])
        assert "pip install" not in command, f"{name} installs packages at start"
        assert executor["container"]["image"].endswith("/mlops/kfp-component:2.17.0-1")
    dockerfile = (ROOT / "images" / "kfp-component" / "Dockerfile").read_text()
    assert f'"kfp=={KFP_VERSION}"' in dockerfile
    env = {e["name"]: e["value"] for e in train["env"]}
    assert env == {"MLFLOW_TRACKING_URI": outputs["mlflowTrackingUri"],
                   "FEAST_FEATURE_SERVER_URL": outputs["featureStoreFeatureServerUrl"]}
    placement = json.loads(outputs["kfpGpuPlacement"])
    k8s = next(v for k, v in platform_spec["platforms"]["kubernetes"]["deploymentSpec"]["executors"].items()
               if "train" in k)
    assert k8s["nodeSelector"]["labels"] == placement["nodeSelector"] != {}
    assert [(t["key"], t["operator"], t["effect"]) for t in k8s["tolerations"]] == [
        (t["key"], t["operator"], t["effect"]) for t in placement["tolerations"]]
