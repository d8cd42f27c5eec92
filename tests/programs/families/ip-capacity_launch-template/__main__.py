"""IP-capacity family, a launch template: the `batch` managed node group takes its instance type (c6i.4xlarge: 16
vCPUs, 8 ENIs of 30 IPv4 addresses) from a launch template rather than from instance_types, on three private /24
subnets, with the default VPC CNI. The launch template names no AMI, so EKS caps the kubelet's max pods at 110 (below
30 vCPUs); aws-node and kube-proxy use the host network, so a full node has 108 pod addresses on 4 ENIs (29 each),
and the CNI keeps one more ENI attached (WARM_ENI_TARGET=1), every ENI filled: 5 x 30 = 150 addresses a node.

bad: max_size 6 for a backfill. Six full nodes hold 6 x 150 = 900 addresses; the three /24 subnets hold
3 x 251 = 753."""

import json

import pulumi
import pulumi_aws as aws

variant = pulumi.Config("fixture").require("variant")
max_nodes = 3 if variant == "good" else 6

vpc = aws.ec2.Vpc("batch", cidr_block="10.60.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
subnets = [aws.ec2.Subnet(f"batch-subnet-{zone[-1]}", vpc_id=vpc.id, availability_zone=zone,
                          cidr_block=f"10.60.{i}.0/24")
           for i, zone in enumerate(("eu-west-1a", "eu-west-1b", "eu-west-1c"))]


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
cluster = aws.eks.Cluster("batch", name="batch", role_arn=cluster_role.arn, version="1.33",
                          vpc_config={"subnet_ids": [s.id for s in subnets], "endpoint_private_access": True},
                          access_config={"authentication_mode": "API"})
template = aws.ec2.LaunchTemplate(
    "batch", instance_type="c6i.4xlarge",
    metadata_options={"http_tokens": "required", "http_put_response_hop_limit": 1},
    block_device_mappings=[{"device_name": "/dev/xvda",
                            "ebs": {"volume_size": 200, "volume_type": "gp3", "encrypted": "true"}}])
aws.eks.NodeGroup("batch", cluster_name=cluster.name, node_group_name="batch", node_role_arn=node_role.arn,
                  subnet_ids=[s.id for s in subnets],
                  launch_template={"id": template.id, "version": template.latest_version.apply(str)},
                  scaling_config={"min_size": 1, "desired_size": 1, "max_size": max_nodes})
