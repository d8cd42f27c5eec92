"""Identity family, raw objects: IRSA for a feature materialization CronJob. The program creates the cluster, its
IAM OIDC provider, the role (trust built with `aws.iam.get_policy_document` from the provider's outputs), the
annotated ServiceAccount and the CronJob.

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


host = oidc.url.apply(lambda url: url.removeprefix("https://"))
trust = aws.iam.get_policy_document_output(statements=[{
    "actions": ["sts:AssumeRoleWithWebIdentity"],
    "principals": [{"type": "Federated", "identifiers": [oidc.arn]}],
    "conditions": [
        {"test": "StringEquals", "variable": host.apply(lambda h: f"{h}:sub"),
         "values": [f"system:serviceaccount:{NS}:{trusted_sa}"]},
        {"test": "StringEquals", "variable": host.apply(lambda h: f"{h}:aud"), "values": ["sts.amazonaws.com"]},
    ],
}])
role = aws.iam.Role("materializer-irsa", name="materializer-irsa",
                    assume_role_policy=trust.json)
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
