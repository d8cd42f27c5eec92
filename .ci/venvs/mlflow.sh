# MLflow in its own virtualenv (its dependencies must not move the library's), at the version the image pins,
# with what the image adds to it: the auth extra (basic-auth app), psycopg2 (Postgres), boto3 (S3 artifacts),
# prometheus-flask-exporter (`--expose-prometheus`).
mlflow_version=$(.venv/bin/python -c 'from mlops_infra.registry.config import TrackingServerConfig as T; print(T.model_fields["image"].default.rsplit(":", 1)[1])')
[ -x .venv-mlflow/bin/python ] || python3 -m venv .venv-mlflow
.venv-mlflow/bin/python -m pip install --quiet "mlflow[auth]==$mlflow_version" psycopg2-binary boto3 prometheus-flask-exporter
