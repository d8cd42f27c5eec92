# Apache Airflow (tests/integration/test_airflow.py) in its own virtualenv, at the version the pinned chart
# deploys (mlops_infra/pipelines/config.py AIRFLOW_VERSION), with the providers the platform's config uses:
# amazon (S3 remote task logs, S3 DAG bundle), cncf-kubernetes (KubernetesExecutor, pod_override models).
# Airflow's constraints files live on GitHub, which CI cannot reach (PyPI only): the providers are pinned to the
# versions pip resolved with Airflow 3.1.7 (Nov 2026), which also spares pip the backtracking.
airflow_version=$(.venv/bin/python -c 'from mlops_infra.pipelines.config import AIRFLOW_VERSION as V; print(V)')
[ -x .venv-airflow/bin/python ] || python3 -m venv .venv-airflow
.venv-airflow/bin/python -m pip install --quiet "apache-airflow==$airflow_version" \
  apache-airflow-providers-amazon==9.39.0 apache-airflow-providers-cncf-kubernetes==10.25.0
