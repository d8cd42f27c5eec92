"""Placement family, raw objects on an EKS cluster with two managed node groups: `general` (m6i.large/m6i.xlarge,
label workload=general) and `memory` (r6i.2xlarge, label workload=memory). The embedder selects the general group.

bad: the embedder requests 20Gi of memory; the largest general node (m6i.xlarge, 16 GiB) has less allocatable than
that, and the nodeSelector does not admit the memory group, so the pod stays Pending."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"]


def service_role(name: str, service: str, policies: list[str]) -> aws.iam.Role:
    role = aws.iam.Role(name, assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}))
    for policy in policies:
        aws.iam.RolePolicyAttachment(f"{name}-{policy}", role=role.name,
                                     policy_arn=f"arn:aws:iam::aws:policy/{policy}")
    return role


cluster_role = service_role("ml-cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"])
node_role = service_role("ml-nodes", "ec2.amazonaws.com", [
    "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"])
cluster = aws.eks.Cluster("ml", name="ml", role_arn=cluster_role.arn, version="1.33",
                          vpc_config={"subnet_ids": SUBNETS, "endpoint_private_access": True},
                          access_config={"authentication_mode": "API"})
for group, types, size in (("general", ["m6i.large", "m6i.xlarge"], 3), ("memory", ["r6i.2xlarge"], 1)):
    aws.eks.NodeGroup(group, cluster_name=cluster.name, node_group_name=group, node_role_arn=node_role.arn,
                      subnet_ids=SUBNETS, instance_types=types, labels={"workload": group},
                      scaling_config={"min_size": 1, "desired_size": size, "max_size": size + 3})



def kubeconfig(args: list[str]) -> str:
    name, endpoint, ca = args
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                   "command": "aws", "args": ["eks", "get-token", "--cluster-name", name]}}}]})


provider = k8s.Provider("ml", kubeconfig=pulumi.Output.all(cluster.name, cluster.endpoint,
                                                           cluster.certificate_authority.data).apply(kubeconfig))
ns = k8s.core.v1.Namespace("ml", metadata={"name": "ml"}, opts=pulumi.ResourceOptions(provider=provider))
opts = pulumi.ResourceOptions(provider=provider, depends_on=[ns])
memory = "6Gi" if variant == "good" else "20Gi"
k8s.core.v1.ServiceAccount("embedder", metadata={"name": "embedder", "namespace": "ml"},
                           automount_service_account_token=False, opts=opts)
k8s.apps.v1.Deployment(
    "embedder",
    metadata={"name": "embedder", "namespace": "ml"},
    spec={
        "replicas": 2,
        "selector": {"matchLabels": {"app": "embedder"}},
        "template": {
            "metadata": {"labels": {"app": "embedder"}},
            "spec": {
                "serviceAccountName": "embedder",
                "nodeSelector": {"workload": "general"},
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "embedder",
                    "image": "ghcr.io/acme/embedder:1.8.0",
                    "resources": {"requests": {"cpu": "1500m", "memory": memory}, "limits": {"memory": memory}},
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
                }],
            },
        },
    },
    opts=opts,
)
