"""Service-reach family, raw objects: a private EKS cluster in a VPC the program owns, with no NAT gateway; AWS
APIs are reached through VPC endpoints (the private-cluster set: ECR, S3, STS, EC2, CloudWatch Logs). The online
feature server's IRSA role is granted a DynamoDB table.

bad: there is no DynamoDB gateway endpoint on the private route table (and no NAT), so the granted table is
unreachable from the pods: every DynamoDB call times out."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
region = aws.get_region().region
NS, SA = "online-features", "feature-server"

vpc = aws.ec2.Vpc("features", cidr_block="10.20.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
private_rt = aws.ec2.RouteTable("features-private", vpc_id=vpc.id)  # local route only: no NAT, no IGW
subnets = []
for i, az in enumerate(("a", "b", "c")):
    subnet = aws.ec2.Subnet(f"features-private-{az}", vpc_id=vpc.id, cidr_block=f"10.20.{i * 16}.0/20",
                            availability_zone=f"{region}{az}", tags={"kubernetes.io/role/internal-elb": "1"})
    aws.ec2.RouteTableAssociation(f"features-private-{az}", subnet_id=subnet.id, route_table_id=private_rt.id)
    subnets.append(subnet)
endpoint_sg = aws.ec2.SecurityGroup("vpc-endpoints", vpc_id=vpc.id, description="HTTPS from the VPC to endpoints",
                                    ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443,
                                              "cidr_blocks": ["10.20.0.0/16"]}])
for service in ("ecr.api", "ecr.dkr", "sts", "ec2", "logs"):
    aws.ec2.VpcEndpoint(f"{service.replace('.', '-')}-endpoint", vpc_id=vpc.id,
                        service_name=f"com.amazonaws.{region}.{service}", vpc_endpoint_type="Interface",
                        private_dns_enabled=True, subnet_ids=[s.id for s in subnets],
                        security_group_ids=[endpoint_sg.id])
aws.ec2.VpcEndpoint("s3-endpoint", vpc_id=vpc.id, service_name=f"com.amazonaws.{region}.s3",
                    vpc_endpoint_type="Gateway", route_table_ids=[private_rt.id])
if variant == "good":
    aws.ec2.VpcEndpoint("dynamodb-endpoint", vpc_id=vpc.id, service_name=f"com.amazonaws.{region}.dynamodb",
                        vpc_endpoint_type="Gateway", route_table_ids=[private_rt.id])


def service_role(name: str, service: str, policies: list[str]) -> aws.iam.Role:
    role = aws.iam.Role(name, assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}))
    for policy in policies:
        aws.iam.RolePolicyAttachment(f"{name}-{policy}", role=role.name, policy_arn=f"arn:aws:iam::aws:policy/{policy}")
    return role


cluster = aws.eks.Cluster(
    "features", name="features", version="1.33",
    role_arn=service_role("features-cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"]).arn,
    vpc_config={"subnet_ids": [s.id for s in subnets], "endpoint_private_access": True,
                "endpoint_public_access": False})
aws.eks.NodeGroup("features-general", cluster_name=cluster.name, node_group_name="general",
                  node_role_arn=service_role("features-nodes", "ec2.amazonaws.com", [
                      "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"]).arn,
                  subnet_ids=[s.id for s in subnets], instance_types=["m6i.xlarge"],
                  scaling_config={"min_size": 2, "desired_size": 3, "max_size": 6})
oidc = aws.iam.OpenIdConnectProvider("features-oidc", url=cluster.identities[0].oidcs[0].issuer,
                                     client_id_lists=["sts.amazonaws.com"])


def irsa_trust(args: list[str]) -> str:
    arn, url = args
    host = url.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{NS}:{SA}",
                                       f"{host}:aud": "sts.amazonaws.com"}}}]})


table = aws.dynamodb.Table("online-features", name="online-features", billing_mode="PAY_PER_REQUEST",
                           hash_key="entity_id", attributes=[{"name": "entity_id", "type": "S"}],
                           point_in_time_recovery={"enabled": True}, server_side_encryption={"enabled": True})
role = aws.iam.Role("online-store-irsa", name="online-store-irsa",
                    assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(irsa_trust))
aws.iam.RolePolicy("online-store-irsa-table", role=role.id, policy=table.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
                   "Resource": arn}]})))

provider = k8s.Provider("features", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "features", "cluster": {"server": e}}]})))
ns = k8s.core.v1.Namespace("online-features", metadata={"name": NS}, opts=pulumi.ResourceOptions(provider=provider))
sa = k8s.core.v1.ServiceAccount(SA, metadata={"name": SA, "namespace": NS,
                                              "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
                                opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]))
k8s.apps.v1.Deployment(
    "feature-server",
    metadata={"name": "feature-server", "namespace": NS},
    spec={"replicas": 2, "selector": {"matchLabels": {"app": "feature-server"}}, "template": {
        "metadata": {"labels": {"app": "feature-server"}},
        "spec": {"serviceAccountName": SA,
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "server", "image": "ghcr.io/acme/feature-server:0.40.1",
                                 "env": [{"name": "ONLINE_TABLE", "value": "online-features"}],
                                 "ports": [{"name": "http", "containerPort": 6566}],
                                 "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                               "limits": {"memory": "1Gi"}},
                                 "securityContext": {"allowPrivilegeEscalation": False,
                                                     "capabilities": {"drop": ["ALL"]}}}]}}},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[sa]),
)
