"""IP-capacity family, two node groups sharing subnets, autonamed (no node_group_name: EKS takes the resource name
with a suffix): a `cpu-pool` of m6i.xlarge (58 pods a node: 4 ENIs of 15 addresses) and a `gpu-a10g` pool of
g5.4xlarge (8 ENIs of 30; EKS caps a managed group's max pods at 110 below 30 vCPUs) on the same two private /23
subnets, with the default VPC CNI (a pod takes an address of its node's subnet; aws-node and kube-proxy use the host
network; the CNI fills every attached ENI and keeps one spare). A full m6i.xlarge: 56 pod addresses on its 4 ENIs =
60 addresses; a full g5.4xlarge: 108 pod addresses on 4 ENIs plus the spare = 5 x 30 = 150.

bad: the GPU pool's maximum goes from 2 to 4 nodes. Each group alone fits the subnets, but together at their maxima
they hold 8 x 60 + 4 x 150 = 1,080 addresses, and the two /23 subnets hold 2 x 507 = 1,014."""

import json

import pulumi
import pulumi_aws as aws

variant = pulumi.Config("fixture").require("variant")
gpu_max = 2 if variant == "good" else 4

vpc = aws.ec2.Vpc("platform", cidr_block="172.20.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
pods = [aws.ec2.Subnet(f"pods-{zone[-1]}", vpc_id=vpc.id, availability_zone=zone, cidr_block=cidr,
                       tags={"kubernetes.io/role/internal-elb": "1"})
        for zone, cidr in (("us-west-2a", "172.20.0.0/23"), ("us-west-2b", "172.20.2.0/23"))]


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
cluster = aws.eks.Cluster("platform", role_arn=cluster_role.arn, version="1.33",
                          vpc_config={"subnet_ids": [s.id for s in pods], "endpoint_private_access": True},
                          access_config={"authentication_mode": "API"})
aws.eks.NodeGroup("cpu-pool", cluster_name=cluster.name, node_role_arn=node_role.arn,
                  subnet_ids=[s.id for s in pods], instance_types=["m6i.xlarge"],
                  scaling_config={"min_size": 2, "desired_size": 2, "max_size": 8})
aws.eks.NodeGroup("gpu-a10g", cluster_name=cluster.name, node_role_arn=node_role.arn,
                  subnet_ids=[s.id for s in pods], instance_types=["g5.4xlarge"], ami_type="AL2023_x86_64_NVIDIA",
                  taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
                  scaling_config={"min_size": 1, "desired_size": 1, "max_size": gpu_max})
