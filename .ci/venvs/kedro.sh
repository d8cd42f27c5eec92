# Kedro recipe (examples/recipes/kedro, tests/integration/test_recipes.py): the real Kedro loads the recipe's catalog
# and reads parquet from S3 (kedro-datasets' pandas.ParquetDataset through s3fs). MLflow tracking comes from the
# pod's MLFLOW_TRACKING_URI (no kedro-mlflow: it pulls the full mlflow, minutes of install for no config to check).
[ -x .venv-kedro/bin/python ] || python3 -m venv .venv-kedro
.venv-kedro/bin/python -m pip install --quiet "kedro==1.7.0" "kedro-datasets[pandas-parquetdataset]==9.6.0" \
  "s3fs==2026.9.0" pyarrow
