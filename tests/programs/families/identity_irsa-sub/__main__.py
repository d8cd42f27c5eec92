"""Identity family, raw objects: IRSA for a feature materialization Job. The program creates the cluster, its IAM
OIDC provider, the role (trust built from the provider's outputs), the annotated ServiceAccount and the Job.

bad: the trust's `sub` names system:serviceaccount:features:feast (the chart default the author copied), not the
ServiceAccount the Job runs as (feature-materializer); STS rejects the pod's token (AccessDenied on
AssumeRoleWithWebIdentity)."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
NS, SA = "features", "feature-materializer"
SUBNETS = ["subnet-0b00000000000c001", "subnet-0b00000000000c002"]

cluster_role = aws.iam.Role("features-cluster", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
aws.iam.RolePolicyAttachment("features-cluster", role=cluster_role.name,
                             policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
cluster = aws.eks.Cluster("features", name="features", role_arn=cluster_role.arn, version="1.33",
                          vpc_config={"subnet_ids": SUBNETS})
node_role = aws.iam.Role("features-nodes", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"):
    aws.iam.RolePolicyAttachment(f"features-nodes-{policy}", role=node_role.name,
                                 policy_arn=f"arn:aws:iam::aws:policy/{policy}")
aws.eks.NodeGroup("features-general", cluster_name=cluster.name, node_group_name="general", node_role_arn=node_role.arn,
                  subnet_ids=SUBNETS, instance_types=["m6i.large"],
                  scaling_config={"min_size": 2, "desired_size": 2, "max_size": 5})
issuer = cluster.identities[0].oidcs[0].issuer
oidc = aws.iam.OpenIdConnectProvider("features-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"])

trusted_sa = SA if variant == "good" else "feast"


def irsa_trust(args: list[str]) -> str:
    provider_arn, url = args
    host = url.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{NS}:{trusted_sa}",
                                       f"{host}:aud": "sts.amazonaws.com"}},
    }]})


role = aws.iam.Role("materializer-irsa", name="materializer-irsa",
                    assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(irsa_trust))
aws.iam.RolePolicy("materializer-irsa-dynamodb", role=role.id, policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:GetItem"],
                   "Resource": "arn:aws:dynamodb:*:*:table/online-features"}]}))

provider = k8s.Provider("features", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "features", "cluster": {"server": e}}]})))
opts = pulumi.ResourceOptions(provider=provider)
ns = k8s.core.v1.Namespace("features", metadata={"name": NS}, opts=opts)
sa = k8s.core.v1.ServiceAccount(SA, metadata={"name": SA, "namespace": NS,
                                              "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
                                opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]))
k8s.batch.v1.CronJob(
    "materialize",
    metadata={"name": "materialize", "namespace": NS},
    spec={"schedule": "*/30 * * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {"template": {"spec": {
        "serviceAccountName": SA,
        "restartPolicy": "OnFailure",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "materialize", "image": "ghcr.io/acme/feature-jobs:0.40.1",
                        "args": ["materialize-incremental"],
                        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
    }}}}},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[sa]),
)
