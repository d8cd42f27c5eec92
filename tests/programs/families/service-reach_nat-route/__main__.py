"""Service-reach family, the classic public/private VPC: a NAT gateway in a public subnet and a private route table
whose default route points at it; nodes and pods run in the private subnets. No VPC endpoints: AWS APIs are
reached through NAT. The batch scorer's Pod Identity role reads an SQS queue.

bad: the private subnets are associated with a route table that has no default route (the NAT route was added to
another, unused route table), so the pods reach neither STS/EKS Auth nor SQS."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
region = aws.get_region().region
NS, SA = "scoring", "batch-scorer"

vpc = aws.ec2.Vpc("scoring", cidr_block="10.50.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
igw = aws.ec2.InternetGateway("scoring", vpc_id=vpc.id)
public_rt = aws.ec2.RouteTable("scoring-public", vpc_id=vpc.id,
                               routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}])
public = aws.ec2.Subnet("scoring-public-a", vpc_id=vpc.id, cidr_block="10.50.0.0/24",
                        availability_zone=f"{region}a", map_public_ip_on_launch=False)
aws.ec2.RouteTableAssociation("scoring-public-a", subnet_id=public.id, route_table_id=public_rt.id)
nat_eip = aws.ec2.Eip("scoring-nat", domain="vpc")
nat = aws.ec2.NatGateway("scoring", subnet_id=public.id, allocation_id=nat_eip.id)
nat_rt = aws.ec2.RouteTable("scoring-private-nat", vpc_id=vpc.id,
                            routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}])
local_rt = aws.ec2.RouteTable("scoring-private-local", vpc_id=vpc.id)  # local route only
private_rt = nat_rt if variant == "good" else local_rt
subnet_ids = []
for i, az in enumerate(("a", "b")):
    subnet = aws.ec2.Subnet(f"scoring-private-{az}", vpc_id=vpc.id, cidr_block=f"10.50.{16 + i * 16}.0/20",
                            availability_zone=f"{region}{az}")
    aws.ec2.RouteTableAssociation(f"scoring-private-{az}", subnet_id=subnet.id, route_table_id=private_rt.id)
    subnet_ids.append(subnet.id)


def service_role(name: str, service: str, policies: list[str]) -> aws.iam.Role:
    role = aws.iam.Role(name, assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}))
    for policy in policies:
        aws.iam.RolePolicyAttachment(f"{name}-{policy}", role=role.name, policy_arn=f"arn:aws:iam::aws:policy/{policy}")
    return role


cluster = aws.eks.Cluster("scoring", name="scoring", version="1.33",
                          role_arn=service_role("scoring-cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"]).arn,
                          vpc_config={"subnet_ids": subnet_ids}, access_config={"authentication_mode": "API"})
aws.eks.NodeGroup("scoring-general", cluster_name=cluster.name, node_group_name="general", subnet_ids=subnet_ids,
                  node_role_arn=service_role("scoring-nodes", "ec2.amazonaws.com", [
                      "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"]).arn,
                  instance_types=["c6i.xlarge"], scaling_config={"min_size": 1, "desired_size": 2, "max_size": 8})
agent = aws.eks.Addon("eks-pod-identity-agent", cluster_name=cluster.name, addon_name="eks-pod-identity-agent")
queue = aws.sqs.Queue("scoring-requests", name="scoring-requests", sqs_managed_sse_enabled=True)
role = aws.iam.Role("batch-scorer", name="batch-scorer", assume_role_policy=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                            "Action": ["sts:AssumeRole", "sts:TagSession"]}]}))
aws.iam.RolePolicy("batch-scorer-queue", role=role.id, policy=queue.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                   "Resource": arn}]})))
aws.eks.PodIdentityAssociation("batch-scorer", cluster_name=cluster.name, namespace=NS, service_account=SA,
                               role_arn=role.arn, opts=pulumi.ResourceOptions(depends_on=[agent]))

provider = k8s.Provider("scoring", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "scoring", "cluster": {"server": e}}]})))
ns = k8s.core.v1.Namespace("scoring", metadata={"name": NS}, opts=pulumi.ResourceOptions(provider=provider))
sa = k8s.core.v1.ServiceAccount(SA, metadata={"name": SA, "namespace": NS},
                                opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]))
k8s.apps.v1.Deployment(
    "batch-scorer",
    metadata={"name": "batch-scorer", "namespace": NS},
    spec={"replicas": 2, "selector": {"matchLabels": {"app": "batch-scorer"}}, "template": {
        "metadata": {"labels": {"app": "batch-scorer"}},
        "spec": {"serviceAccountName": SA,
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "scorer", "image": "ghcr.io/acme/batch-scorer:2.2.0",
                                 "env": [{"name": "QUEUE_NAME", "value": "scoring-requests"}],
                                 "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
                                 "securityContext": {"allowPrivilegeEscalation": False,
                                                     "capabilities": {"drop": ["ALL"]}}}]}}},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[sa]),
)
