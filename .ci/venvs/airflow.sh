# Apache Airflow (tests/integration/test_airflow.py) in its own virtualenv, at the version the pinned chart
# deploys (mlops_infra/pipelines/config.py AIRFLOW_VERSION), with the providers the platform's config uses:
# amazon (S3 remote task logs, S3 DAG bundle), cncf-kubernetes (KubernetesExecutor, pod_override models).
# Airflow's constraints files live on GitHub, which CI cannot reach (PyPI only): the providers are pinned to the
# versions pip resolved with Airflow 3.1.7 (Nov 2026), which also spares pip the backtracking. The `postgres` extra
# (psycopg2-binary, asyncpg, providers-postgres), which the official image ships, lets the scheduler and the
# dag-processor run against a real PostgreSQL (tests/integration/test_airflow_readonly_root.py); pip resolved
# providers-postgres 7.1.1, psycopg2-binary 2.9.13, asyncpg 0.32.0 (Dec 2026). cryptography stays at 46: from the
# release pip picks today (51.0.1) MultiFernet is a Rust class, and Airflow 3.1.7's models/crypto.py `get_fernet`
# sets `is_encrypted` on it (AttributeError: every connection lookup fails once a Fernet key is set). The image's
# constraints file (on GitHub, unreachable here) pins a release from before that change.
airflow_version=$(.venv/bin/python -c 'from mlops_infra.pipelines.config import AIRFLOW_VERSION as V; print(V)')
[ -x .venv-airflow/bin/python ] || python3 -m venv .venv-airflow
.venv-airflow/bin/python -m pip install --quiet "apache-airflow[postgres]==$airflow_version" \
  apache-airflow-providers-amazon==9.39.0 apache-airflow-providers-cncf-kubernetes==10.25.0 \
  apache-airflow-providers-postgres==7.1.1 psycopg2-binary==2.9.13 asyncpg==0.32.0 cryptography==46.0.7
