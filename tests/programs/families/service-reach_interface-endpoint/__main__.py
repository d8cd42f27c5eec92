"""Service-reach family, EKS Pod Identity plus workload YAML applied with `kubernetes.yaml.ConfigGroup`, in a VPC
with no NAT gateway. The VPC has the endpoints a private cluster with Pod Identity needs (ECR, S3, EC2, EKS
Auth, CloudWatch Logs); the registry proxy's role is granted one Secrets Manager secret.

bad: there is no com.amazonaws.<region>.secretsmanager interface endpoint, so GetSecretValue from the pods has no
route (no NAT, no endpoint) and times out."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
region = aws.get_region().region
VPC_CIDR, NS, SA = "10.40.0.0/16", "registry", "registry-proxy"

vpc = aws.ec2.Vpc("registry", cidr_block=VPC_CIDR, enable_dns_hostnames=True, enable_dns_support=True)
private_rt = aws.ec2.RouteTable("registry-private", vpc_id=vpc.id)
subnet_ids = []
for i, az in enumerate(("a", "b")):
    subnet = aws.ec2.Subnet(f"registry-private-{az}", vpc_id=vpc.id, cidr_block=f"10.40.{i * 64}.0/18",
                            availability_zone=f"{region}{az}")
    aws.ec2.RouteTableAssociation(f"registry-private-{az}", subnet_id=subnet.id, route_table_id=private_rt.id)
    subnet_ids.append(subnet.id)
endpoint_sg = aws.ec2.SecurityGroup("registry-endpoints", vpc_id=vpc.id,
                                    ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443,
                                              "cidr_blocks": [VPC_CIDR]}])
services = ["ecr.api", "ecr.dkr", "ec2", "eks-auth", "logs"] + (["secretsmanager"] if variant == "good" else [])
for service in services:
    aws.ec2.VpcEndpoint(f"registry-{service.replace('.', '-')}", vpc_id=vpc.id,
                        service_name=f"com.amazonaws.{region}.{service}", vpc_endpoint_type="Interface",
                        private_dns_enabled=True, subnet_ids=subnet_ids, security_group_ids=[endpoint_sg.id])
aws.ec2.VpcEndpoint("registry-s3", vpc_id=vpc.id, service_name=f"com.amazonaws.{region}.s3",
                    vpc_endpoint_type="Gateway", route_table_ids=[private_rt.id])


def service_role(name: str, service: str, policies: list[str]) -> aws.iam.Role:
    role = aws.iam.Role(name, assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}))
    for policy in policies:
        aws.iam.RolePolicyAttachment(f"{name}-{policy}", role=role.name, policy_arn=f"arn:aws:iam::aws:policy/{policy}")
    return role


cluster = aws.eks.Cluster("registry", name="registry", version="1.33",
                          role_arn=service_role("registry-cluster", "eks.amazonaws.com",
                                                ["AmazonEKSClusterPolicy"]).arn,
                          vpc_config={"subnet_ids": subnet_ids, "endpoint_private_access": True,
                                      "endpoint_public_access": False},
                          access_config={"authentication_mode": "API"})
aws.eks.NodeGroup("registry-general", cluster_name=cluster.name, node_group_name="general", subnet_ids=subnet_ids,
                  node_role_arn=service_role("registry-nodes", "ec2.amazonaws.com", [
                      "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"]).arn,
                  instance_types=["m6i.large"], scaling_config={"min_size": 2, "desired_size": 2, "max_size": 4})
agent = aws.eks.Addon("eks-pod-identity-agent", cluster_name=cluster.name, addon_name="eks-pod-identity-agent")

secret = aws.secretsmanager.Secret("upstream-registry-token", name="registry/upstream-token")
role = aws.iam.Role("registry-proxy", name="registry-proxy", assume_role_policy=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                            "Action": ["sts:AssumeRole", "sts:TagSession"]}]}))
aws.iam.RolePolicy("registry-proxy-secret", role=role.id, policy=secret.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}]})))
aws.eks.PodIdentityAssociation("registry-proxy", cluster_name=cluster.name, namespace=NS, service_account=SA,
                               role_arn=role.arn, opts=pulumi.ResourceOptions(depends_on=[agent]))

WORKLOAD = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {NS}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {SA}
  namespace: {NS}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: registry-proxy
  namespace: {NS}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: registry-proxy}}
  template:
    metadata:
      labels: {{app: registry-proxy}}
    spec:
      serviceAccountName: {SA}
      securityContext: {{runAsNonRoot: true, runAsUser: 10001, seccompProfile: {{type: RuntimeDefault}}}}
      containers:
        - name: proxy
          image: ghcr.io/acme/registry-proxy:1.2.0
          env:
            - {{name: UPSTREAM_TOKEN_SECRET_ID, value: registry/upstream-token}}
            - {{name: AWS_REGION, value: {region}}}
          ports:
            - {{name: http, containerPort: 5000}}
          resources:
            requests: {{cpu: 250m, memory: 256Mi}}
            limits: {{memory: 256Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
"""
provider = k8s.Provider("registry", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "registry", "cluster": {"server": e}}]})))
k8s.yaml.ConfigGroup("registry-proxy", yaml=[WORKLOAD], opts=pulumi.ResourceOptions(provider=provider))
