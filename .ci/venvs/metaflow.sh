# Metaflow (tests/integration/test_metaflow.py) at the client version the platform's config names
# (MetaflowConfig.version), with boto3 (S3 datastore) and kubernetes (`argo-workflows create` compiles through it).
metaflow_version=$(.venv/bin/python -c 'from mlops_infra.pipelines.metaflow_config import MetaflowConfig as T; print(T.model_fields["version"].default)')
[ -x .venv-metaflow/bin/python ] || python3 -m venv .venv-metaflow
.venv-metaflow/bin/python -m pip install --quiet "metaflow==$metaflow_version" boto3 kubernetes
