# MLServer with its MLflow runtime (tests/integration/test_serving.py), at the version of the MLServer image the
# serving runtime deploys and with the packages that image ships (MLSERVER_IMAGE_PACKAGES: mlflow 2.19.0, not the
# registry's MLflow), so the test loads a model as the pod does; boto3 for S3 downloads, as the storage initializer.
# `.venv-mlserver-train` is the README's training environment: the registry's MLflow client with the runtime's
# scikit-learn and numpy (a pickle loads only under the versions that wrote it).
mlserver_version=$(.venv/bin/python -c 'from mlops_infra.serving.config import RuntimesConfig as R; print(R.model_fields["mlserver_image"].default.split("@")[0].rsplit(":", 1)[1])')
image_pins=$(.venv/bin/python -c 'from mlops_infra.serving.runtimes import MLSERVER_IMAGE_PACKAGES as P; print(" ".join(f"{k}=={v}" for k, v in P.items()))')
train_pins=$(.venv/bin/python -c 'from mlops_infra.serving.runtimes import MLSERVER_IMAGE_PACKAGES as P; print(" ".join(f"{k}=={v}" for k, v in P.items() if k != "mlflow"))')
mlflow_version=$(.venv/bin/python -c 'from mlops_infra.registry.config import TrackingServerConfig as T; print(T.model_fields["image"].default.rsplit(":", 1)[1])')
[ -x .venv-mlserver/bin/python ] || python3 -m venv .venv-mlserver
.venv-mlserver/bin/python -m pip install --quiet "mlserver==$mlserver_version" "mlserver-mlflow==$mlserver_version" \
  $image_pins boto3
[ -x .venv-mlserver-train/bin/python ] || python3 -m venv .venv-mlserver-train
.venv-mlserver-train/bin/python -m pip install --quiet "mlflow==$mlflow_version" $train_pins boto3
