"""ModelServing alone behind an internal ALB: an MLflow model with a 10% canary, and a TF Serving model on GPUs."""

import json

import pulumi
import pulumi_aws as aws

from mlops_infra.blocks.observability import MonitoringRefs
from mlops_infra.blocks.refs import BucketRefs, ClusterRefs, cluster_provider
from mlops_infra.compute.gpu_config import TaintConfig
from mlops_infra.serving.config import ServingConfig
from mlops_infra.serving.model_serving import ModelServing, ModelServingArgs

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
config = ServingConfig.model_validate({
    "enabled": True,
    "exposure": {"mode": "internalAlb", "host": "models.internal.example.com",
                 "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"},
    "models": [
        {"name": "churn", "flavour": "mlflow", "artifactPath": "artifacts/1/models/m-5f0c2d9e8a7b4c3d/artifacts",
         "minReplicas": 2, "maxReplicas": 6,
         "canary": {"artifactPath": "artifacts/1/models/m-9a8b7c6d5e4f3a2b/artifacts", "trafficPercent": 10}},
        {"name": "ranker", "flavour": "tensorflow", "artifactPath": "artifacts/2/ranker", "gpus": 1,
         "gpuPool": "infer"}]})
cluster = ClusterRefs.existing("prod-eks", security_group_id="sg-0123456789abcdef0", version="1.34",
                               oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.example/id/X",
                               oidc_issuer="https://oidc.eks.example/id/X",
                               provider=cluster_provider("prod-eks-k8s", "{}"),
                               load_balancer_controller=True, metrics_server=True)
serving = ModelServing("prod-serving", ModelServingArgs(
    config=config, cluster=cluster, region="us-east-1", tags={"owner": "ml", "environment": "prod"},
    artifacts=BucketRefs("prod-artifacts", "arn:aws:s3:::prod-artifacts", KEY),
    gpu_taints={"infer": TaintConfig(key="mlops.io/inference")}, vpc_cidr="10.0.0.0/16",
    monitoring=MonitoringRefs(namespace="monitoring", prometheus_namespace="monitoring"),
    pushgateway_url="http://pushgateway.monitoring.svc:9091"))
logger = aws.iam.Role("prediction-logger", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]}))
serving.grant_monitoring_write(logger)
pulumi.export("endpoints", serving.endpoints)
