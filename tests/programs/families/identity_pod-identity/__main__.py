"""Identity family, EKS Pod Identity: an `aws.eks.PodIdentityAssociation` binding the tracking server's
ServiceAccount to a role, with the eks-pod-identity-agent add-on installed.

bad: the role still carries the IRSA trust it had before the migration (Federated OIDC provider, sub/aud of the
same ServiceAccount) and does not trust pods.eks.amazonaws.com for sts:AssumeRole + sts:TagSession, so the Pod
Identity agent cannot assume it for the pod."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
NS, SA = "mlflow", "tracking-server"

cluster_role = aws.iam.Role("platform-cluster", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
aws.iam.RolePolicyAttachment("platform-cluster", role=cluster_role.name,
                             policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
cluster = aws.eks.Cluster("platform", name="platform", role_arn=cluster_role.arn, version="1.33",
                          vpc_config={"subnet_ids": ["subnet-0d00000000000e001", "subnet-0d00000000000e002"]},
                          access_config={"authentication_mode": "API"})
node_role = aws.iam.Role("platform-nodes", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"):
    aws.iam.RolePolicyAttachment(f"platform-nodes-{policy}", role=node_role.name,
                                 policy_arn=f"arn:aws:iam::aws:policy/{policy}")
aws.eks.NodeGroup("platform-general", cluster_name=cluster.name, node_group_name="general", node_role_arn=node_role.arn,
                  subnet_ids=cluster.vpc_config.subnet_ids, instance_types=["m6i.large"],
                  scaling_config={"min_size": 2, "desired_size": 2, "max_size": 5})
agent = aws.eks.Addon("eks-pod-identity-agent", cluster_name=cluster.name, addon_name="eks-pod-identity-agent")
oidc = aws.iam.OpenIdConnectProvider("platform-oidc", url=cluster.identities[0].oidcs[0].issuer,
                                     client_id_lists=["sts.amazonaws.com"])

POD_IDENTITY_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow",
    "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]})


def legacy_irsa_trust(args: list[str]) -> str:
    provider_arn, url = args
    host = url.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{NS}:{SA}",
                                       f"{host}:aud": "sts.amazonaws.com"}}}]})


trust = POD_IDENTITY_TRUST if variant == "good" else pulumi.Output.all(oidc.arn, oidc.url).apply(legacy_irsa_trust)
role = aws.iam.Role("mlflow-pod-identity", name="mlflow-pod-identity", assume_role_policy=trust)
aws.iam.RolePolicy("mlflow-pod-identity-artifacts", role=role.id, policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                   "Resource": ["arn:aws:s3:::acme-mlflow-artifacts", "arn:aws:s3:::acme-mlflow-artifacts/*"]}]}))
aws.eks.PodIdentityAssociation("tracking-server", cluster_name=cluster.name, namespace=NS, service_account=SA,
                               role_arn=role.arn, opts=pulumi.ResourceOptions(depends_on=[agent]))

provider = k8s.Provider("platform", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "platform", "cluster": {"server": e}}]})))
ns = k8s.core.v1.Namespace("mlflow", metadata={"name": NS}, opts=pulumi.ResourceOptions(provider=provider))
k8s.core.v1.ServiceAccount(SA, metadata={"name": SA, "namespace": NS},
                           opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]))
k8s.apps.v1.Deployment(
    "mlflow",
    metadata={"name": "mlflow", "namespace": NS},
    spec={"replicas": 2, "selector": {"matchLabels": {"app": "mlflow"}}, "template": {
        "metadata": {"labels": {"app": "mlflow"}},
        "spec": {
            "serviceAccountName": SA,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "server", "image": "ghcr.io/mlflow/mlflow:v2.19.0",
                            "args": ["server", "--host", "0.0.0.0", "--port", "5000",
                                     "--artifacts-destination", "s3://acme-mlflow-artifacts"],
                            "ports": [{"name": "http", "containerPort": 5000}],
                            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
                            "securityContext": {"allowPrivilegeEscalation": False,
                                                "capabilities": {"drop": ["ALL"]}}}]}}},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]),
)
