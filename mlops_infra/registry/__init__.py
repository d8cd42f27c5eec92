"""Model registry concern: MLflow on EKS (server, RDS Postgres backend, artifact bucket) or SageMaker Model
Package Groups."""
