"""Orchestration: Airflow, Kubeflow Pipelines (Argo Workflows), Metaflow and Prefect on the platform."""
