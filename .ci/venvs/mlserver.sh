# MLServer with its MLflow runtime (tests/integration/test_serving.py), at the version of the MLServer image the
# serving runtime deploys, with the MLflow client the model registry runs (the model is logged by the same MLflow the
# tracking server runs), scikit-learn (the test model's flavour) and boto3 (S3 downloads, as the storage initializer).
mlserver_version=$(.venv/bin/python -c 'from mlops_infra.serving.config import RuntimesConfig as R; print(R.model_fields["mlserver_image"].default.split("@")[0].rsplit(":", 1)[1])')
mlflow_version=$(.venv/bin/python -c 'from mlops_infra.registry.config import TrackingServerConfig as T; print(T.model_fields["image"].default.rsplit(":", 1)[1])')
[ -x .venv-mlserver/bin/python ] || python3 -m venv .venv-mlserver
.venv-mlserver/bin/python -m pip install --quiet "mlserver==$mlserver_version" "mlserver-mlflow==$mlserver_version" \
  "mlflow==$mlflow_version" scikit-learn boto3
