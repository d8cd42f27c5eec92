"""Identity family, a Helm release (tests/data/chart-store/tiny-app) whose chart creates the ServiceAccount and
annotates it with the IRSA role from values; the role's trust is a literal JSON document for an OIDC provider the
program creates from its cluster.

bad: the trust checks only `sub`, not `aud`: a token the cluster issues for this ServiceAccount with any audience is
accepted; the documented trust pins <issuer>:aud to sts.amazonaws.com."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
NS, RELEASE = "tracking", "tracker"
SA = f"{RELEASE}-tiny-app"  # the chart's ServiceAccount: "<release>-tiny-app"

cluster_role = aws.iam.Role("tracking-cluster", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
aws.iam.RolePolicyAttachment("tracking-cluster", role=cluster_role.name,
                             policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
cluster = aws.eks.Cluster("tracking", name="tracking", role_arn=cluster_role.arn, version="1.33",
                          vpc_config={"subnet_ids": ["subnet-0c00000000000d001", "subnet-0c00000000000d002"]})
node_role = aws.iam.Role("tracking-nodes", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"):
    aws.iam.RolePolicyAttachment(f"tracking-nodes-{policy}", role=node_role.name,
                                 policy_arn=f"arn:aws:iam::aws:policy/{policy}")
aws.eks.NodeGroup("tracking-general", cluster_name=cluster.name, node_group_name="general", node_role_arn=node_role.arn,
                  subnet_ids=cluster.vpc_config.subnet_ids, instance_types=["m6i.large"],
                  scaling_config={"min_size": 2, "desired_size": 2, "max_size": 5})
oidc = aws.iam.OpenIdConnectProvider("tracking-oidc", url=cluster.identities[0].oidcs[0].issuer,
                                     client_id_lists=["sts.amazonaws.com"])


def trust(args: list[str]) -> str:
    provider_arn, url = args
    host = url.removeprefix("https://")
    condition = {f"{host}:sub": f"system:serviceaccount:{NS}:{SA}"}
    if variant == "good":
        condition[f"{host}:aud"] = "sts.amazonaws.com"
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": condition}}]})


role = aws.iam.Role("tracker-irsa", name="tracker-irsa",
                    assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(trust))
aws.iam.RolePolicy("tracker-irsa-artifacts", role=role.id, policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                   "Resource": "arn:aws:s3:::acme-tracking-artifacts/*"}]}))

provider = k8s.Provider("tracking", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "tracking", "cluster": {"server": e}}]})))
ns = k8s.core.v1.Namespace("tracking", metadata={"name": NS}, opts=pulumi.ResourceOptions(provider=provider))
k8s.helm.v3.Release(
    RELEASE,
    name=RELEASE,
    chart="tiny-app",
    version="0.1.0",
    repository_opts={"repo": "https://charts.example.test"},
    namespace=NS,
    values={"image": "ghcr.io/acme/tracking-server:2.19.0", "containerPort": 5000,
            "serviceAccount": {"create": True, "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]),
)
