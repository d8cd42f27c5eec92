"""Placement family, a Helm release (tests/data/chart-store/tiny-app) pinned to a tainted managed node group.

The cluster has an untainted `general` group (m6i.large) and a `batch` group (c6i.4xlarge) with label
workload=batch and taint dedicated=batch:NoSchedule. The scorer's values select workload=batch.
bad: the release's values carry no toleration for dedicated=batch, so no node both matches the nodeSelector and
admits the pod."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
SUBNETS = ["subnet-0f00000000000a001", "subnet-0f00000000000a002"]
EKS_NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"]


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


cluster_role = aws.iam.Role("batch-cluster", assume_role_policy=trust("eks.amazonaws.com"))
aws.iam.RolePolicyAttachment("batch-cluster", role=cluster_role.name,
                             policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
node_role = aws.iam.Role("batch-nodes", assume_role_policy=trust("ec2.amazonaws.com"))
for policy in EKS_NODE_POLICIES:
    aws.iam.RolePolicyAttachment(f"batch-nodes-{policy}", role=node_role.name,
                                 policy_arn=f"arn:aws:iam::aws:policy/{policy}")
cluster = aws.eks.Cluster("scoring", name="scoring", role_arn=cluster_role.arn, version="1.33",
                          vpc_config={"subnet_ids": SUBNETS})
aws.eks.NodeGroup("general", cluster_name=cluster.name, node_group_name="general", node_role_arn=node_role.arn,
                  subnet_ids=SUBNETS, instance_types=["m6i.large"],
                  scaling_config={"min_size": 2, "desired_size": 2, "max_size": 4})
aws.eks.NodeGroup("batch", cluster_name=cluster.name, node_group_name="batch", node_role_arn=node_role.arn,
                  subnet_ids=SUBNETS, instance_types=["c6i.4xlarge"], labels={"workload": "batch"},
                  taints=[{"key": "dedicated", "value": "batch", "effect": "NO_SCHEDULE"}],
                  scaling_config={"min_size": 1, "desired_size": 1, "max_size": 10})

provider = k8s.Provider("scoring", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "scoring", "cluster": {"server": e}}]})))
ns = k8s.core.v1.Namespace("scoring", metadata={"name": "scoring"}, opts=pulumi.ResourceOptions(provider=provider))
tolerations = [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]
k8s.helm.v3.Release(
    "scorer",
    name="scorer",
    chart="tiny-app",
    version="0.1.0",
    repository_opts={"repo": "https://charts.example.test"},
    namespace="scoring",
    values={"image": "ghcr.io/acme/scorer:3.1.0", "replicas": 4,
            "nodeSelector": {"workload": "batch"},
            "tolerations": tolerations if variant == "good" else [],
            "resources": {"requests": {"cpu": "3", "memory": "6Gi"}, "limits": {"memory": "6Gi"}}},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]),
)
