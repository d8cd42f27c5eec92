"""Write conf/local/globals.yml for the Kedro recipe from the platform's stack outputs.

    pulumi stack output --json --stack <org>/mlops-infra/prod | python render.py > conf/local/globals.yml

Reads `featureStoreOfflineBucketName` and `mlflowTrackingUri` (README, "Stack outputs"); the region is taken from
the environment (AWS_REGION) when the outputs do not say. MLflow: the pod runs with
MLFLOW_TRACKING_URI=<mlflow.tracking_uri> (and the team's `mlflow-credentials` Secret when MLflow basic auth is on).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import yaml

REQUIRED = {"featureStoreOfflineBucketName": "the feature store (featureStore.enabled)",
            "mlflowTrackingUri": "the model registry's MLflow server (modelRegistry.enabled, engine mlflow)"}


def render(outputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    missing = [f"{key} ({why})" for key, why in REQUIRED.items() if not outputs.get(key)]
    if missing:
        raise ValueError(f"the stack outputs lack {', '.join(missing)}")
    return {"region": region, "feature_store": {"offline_bucket": outputs["featureStoreOfflineBucketName"]},
            "mlflow": {"tracking_uri": outputs["mlflowTrackingUri"]}}


if __name__ == "__main__":
    sys.stdout.write(yaml.safe_dump(render(json.load(sys.stdin), os.environ.get("AWS_REGION", "us-east-1")),
                                    sort_keys=True))
