"""Identity family, a blue/green cluster upgrade: the program owns two EKS clusters (`blue` 1.32, `green` 1.33),
each with its IAM OIDC provider. The ingest worker now runs on green (its ServiceAccount is created through green's
Kubernetes provider) and uses IRSA.

bad: the role's trust still federates blue's OIDC provider, so the token green issues for the ServiceAccount is
not accepted: the trust must name the OIDC provider of the cluster the pod runs in."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
NS, SA = "ingest", "ingest-worker"

cluster_role = aws.iam.Role("eks-cluster", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
aws.iam.RolePolicyAttachment("eks-cluster", role=cluster_role.name,
                             policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
node_role = aws.iam.Role("eks-nodes", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"):
    aws.iam.RolePolicyAttachment(f"eks-nodes-{policy}", role=node_role.name,
                                 policy_arn=f"arn:aws:iam::aws:policy/{policy}")

clusters, providers = {}, {}
for color, version in (("blue", "1.32"), ("green", "1.33")):
    subnets = [f"subnet-0{color[0]}1", f"subnet-0{color[0]}2"]
    cluster = aws.eks.Cluster(color, name=f"ml-{color}", role_arn=cluster_role.arn, version=version,
                              vpc_config={"subnet_ids": subnets})
    aws.eks.NodeGroup(f"{color}-general", cluster_name=cluster.name, node_group_name="general",
                      node_role_arn=node_role.arn, subnet_ids=subnets, instance_types=["m6i.xlarge"],
                      scaling_config={"min_size": 2, "desired_size": 2, "max_size": 5})
    clusters[color] = cluster
    providers[color] = aws.iam.OpenIdConnectProvider(f"{color}-oidc", url=cluster.identities[0].oidcs[0].issuer,
                                                     client_id_lists=["sts.amazonaws.com"])

trusted = providers["green" if variant == "good" else "blue"]


def trust(args: list[str]) -> str:
    arn, url = args
    host = url.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{NS}:{SA}",
                                       f"{host}:aud": "sts.amazonaws.com"}}}]})


role = aws.iam.Role("ingest-irsa", name="ingest-irsa",
                    assume_role_policy=pulumi.Output.all(trusted.arn, trusted.url).apply(trust))
aws.iam.RolePolicy("ingest-irsa-queue", role=role.id, policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                   "Resource": "arn:aws:sqs:us-east-1:123456789012:ingest-events"}]}))

green = clusters["green"]
provider = k8s.Provider("green", kubeconfig=green.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "ml-green", "cluster": {"server": e}}]})))
ns = k8s.core.v1.Namespace("ingest", metadata={"name": NS}, opts=pulumi.ResourceOptions(provider=provider))
sa = k8s.core.v1.ServiceAccount(SA, metadata={"name": SA, "namespace": NS,
                                              "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
                                opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]))
k8s.apps.v1.Deployment(
    "ingest-worker",
    metadata={"name": "ingest-worker", "namespace": NS},
    spec={"replicas": 2, "selector": {"matchLabels": {"app": "ingest-worker"}}, "template": {
        "metadata": {"labels": {"app": "ingest-worker"}},
        "spec": {"serviceAccountName": SA,
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "worker", "image": "ghcr.io/acme/ingest-worker:3.3.0",
                                 "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                               "limits": {"memory": "1Gi"}},
                                 "securityContext": {"allowPrivilegeEscalation": False,
                                                     "capabilities": {"drop": ["ALL"]}}}]}}},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[sa]),
)
