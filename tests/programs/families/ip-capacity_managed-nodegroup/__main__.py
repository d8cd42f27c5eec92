"""IP-capacity family, raw objects: a VPC with two private /24 subnets (us-east-1a, us-east-1b), an EKS cluster with
the default VPC CNI (every pod takes a VPC address from its node's subnet) and one managed node group `workers` of
m5.large nodes on those subnets. An m5.large runs at most 29 pods (3 ENIs x (10 IPv4 addresses - 1) + 2; two of
them, aws-node and kube-proxy, use the node's address): a full node's 27 pod addresses fill its 3 ENIs, and the VPC
CNI allocates every address of an attached ENI, so the node holds 3 x 10 = 30 addresses, its own included.

bad: the group's max_size is raised to 40 for a batch backfill. 40 full nodes hold 40 x 30 = 1,200 addresses; the
two /24 subnets hold 2 x 251 = 502 (AWS reserves 5 addresses of each subnet). The autoscaler adds nodes the scheduler
fills, and their pods fail with "failed to assign an IP address to container"."""

import json

import pulumi
import pulumi_aws as aws

variant = pulumi.Config("fixture").require("variant")
max_nodes = 12 if variant == "good" else 40

vpc = aws.ec2.Vpc("ml", cidr_block="10.50.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
subnet_a = aws.ec2.Subnet("private-a", vpc_id=vpc.id, availability_zone="us-east-1a", cidr_block="10.50.1.0/24")
subnet_b = aws.ec2.Subnet("private-b", vpc_id=vpc.id, availability_zone="us-east-1b", cidr_block="10.50.2.0/24")


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
                          vpc_config={"subnet_ids": [subnet_a.id, subnet_b.id], "endpoint_private_access": True},
                          access_config={"authentication_mode": "API"})
aws.eks.NodeGroup("workers", cluster_name=cluster.name, node_group_name="workers", node_role_arn=node_role.arn,
                  subnet_ids=[subnet_a.id, subnet_b.id], instance_types=["m5.large"],
                  scaling_config={"min_size": 2, "desired_size": 2, "max_size": max_nodes},
                  tags={"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/ml": "owned"})
