"""The Kedro recipe's pipeline: one node that joins two feature-store tables into a training table.

`kedro run` in the project (or tests/integration/test_recipes.py, with Kedro's SequentialRunner) loads the inputs
through conf/base/catalog.yml. Runs tracked in MLflow read MLFLOW_TRACKING_URI from the pod's environment.
"""

from __future__ import annotations

import pandas as pd
from kedro.pipeline import Pipeline, node


def training_table(driver_hourly_stats: pd.DataFrame, user_embeddings: pd.DataFrame) -> pd.DataFrame:
    latest = driver_hourly_stats.sort_values("event_timestamp").groupby("driver_id", as_index=False).last()
    return latest.merge(user_embeddings, how="left", left_on="driver_id", right_on="user_id")


def create_pipeline() -> Pipeline:
    return Pipeline([node(training_table, ["driver_hourly_stats", "user_embeddings"], "training_table",
                          name="training_table")])
