"""Service-reach family, an egress NetworkPolicy against a VPC whose only way to S3 is a gateway endpoint.

The training namespace runs default-deny egress, then allows DNS and the VPC CIDR (where the STS, ECR and other
interface endpoints live). The trainer's IRSA role reads and writes the datasets bucket. A gateway endpoint keeps
S3's public addresses, so pods reach S3 only if egress admits the S3 prefix list's CIDRs.
bad: the policy admits only DNS and the VPC CIDR, not the S3 prefix list (com.amazonaws.<region>.s3), so the granted
bucket is unreachable from the training pods."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
region = aws.get_region().region
VPC_CIDR, NS, SA = "10.30.0.0/16", "training", "trainer"

vpc = aws.ec2.Vpc("training", cidr_block=VPC_CIDR, enable_dns_hostnames=True, enable_dns_support=True)
private_rt = aws.ec2.RouteTable("training-private", vpc_id=vpc.id)
subnet_ids = []
for i, az in enumerate(("a", "b")):
    subnet = aws.ec2.Subnet(f"training-private-{az}", vpc_id=vpc.id, cidr_block=f"10.30.{i * 32}.0/19",
                            availability_zone=f"{region}{az}")
    aws.ec2.RouteTableAssociation(f"training-private-{az}", subnet_id=subnet.id, route_table_id=private_rt.id)
    subnet_ids.append(subnet.id)
endpoint_sg = aws.ec2.SecurityGroup("training-endpoints", vpc_id=vpc.id,
                                    ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443,
                                              "cidr_blocks": [VPC_CIDR]}])
for service in ("sts", "ecr.api", "ecr.dkr", "ec2", "logs"):
    aws.ec2.VpcEndpoint(f"training-{service.replace('.', '-')}", vpc_id=vpc.id,
                        service_name=f"com.amazonaws.{region}.{service}", vpc_endpoint_type="Interface",
                        private_dns_enabled=True, subnet_ids=subnet_ids, security_group_ids=[endpoint_sg.id])
aws.ec2.VpcEndpoint("training-s3", vpc_id=vpc.id, service_name=f"com.amazonaws.{region}.s3",
                    vpc_endpoint_type="Gateway", route_table_ids=[private_rt.id])
s3_prefix_list = aws.ec2.get_prefix_list(name=f"com.amazonaws.{region}.s3")

cluster_role = aws.iam.Role("training-cluster", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
aws.iam.RolePolicyAttachment("training-cluster", role=cluster_role.name,
                             policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
cluster = aws.eks.Cluster("training", name="training", role_arn=cluster_role.arn, version="1.33",
                          vpc_config={"subnet_ids": subnet_ids, "endpoint_private_access": True,
                                      "endpoint_public_access": False})
node_role = aws.iam.Role("training-nodes", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"):
    aws.iam.RolePolicyAttachment(f"training-nodes-{policy}", role=node_role.name,
                                 policy_arn=f"arn:aws:iam::aws:policy/{policy}")
aws.eks.NodeGroup("training-general", cluster_name=cluster.name, node_group_name="general", node_role_arn=node_role.arn,
                  subnet_ids=subnet_ids, instance_types=["m6i.2xlarge"],
                  scaling_config={"min_size": 2, "desired_size": 2, "max_size": 5})
# NetworkPolicies are enforced on EKS only once the VPC CNI's network policy agent is on (off by default: EKS user guide
# "Restrict Pod network traffic with Kubernetes network policies", amazon-vpc-cni-k8s network-policy FAQ); without it
# neither twin's policy restricts anything.
aws.eks.Addon("training-vpc-cni", cluster_name=cluster.name, addon_name="vpc-cni",
              configuration_values=json.dumps({"enableNetworkPolicy": "true"}))
oidc = aws.iam.OpenIdConnectProvider("training-oidc", url=cluster.identities[0].oidcs[0].issuer,
                                     client_id_lists=["sts.amazonaws.com"])


def irsa_trust(args: list[str]) -> str:
    arn, url = args
    host = url.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{NS}:{SA}",
                                       f"{host}:aud": "sts.amazonaws.com"}}}]})


role = aws.iam.Role("trainer-irsa", name="trainer-irsa",
                    assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(irsa_trust))
aws.iam.RolePolicy("trainer-irsa-datasets", role=role.id, policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::acme-datasets"},
                  {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                   "Resource": "arn:aws:s3:::acme-datasets/*"}]}))

provider = k8s.Provider("training", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "training", "cluster": {"server": e}}]})))
ns = k8s.core.v1.Namespace("training", metadata={"name": NS}, opts=pulumi.ResourceOptions(provider=provider))
opts = pulumi.ResourceOptions(provider=provider, depends_on=[ns])
k8s.core.v1.ServiceAccount(SA, metadata={"name": SA, "namespace": NS,
                                         "annotations": {"eks.amazonaws.com/role-arn": role.arn}}, opts=opts)
egress = [
    {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
             "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
     "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
    {"to": [{"ipBlock": {"cidr": VPC_CIDR}}], "ports": [{"protocol": "TCP", "port": 443}]},
]
if variant == "good":
    egress.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in s3_prefix_list.cidr_blocks],
                   "ports": [{"protocol": "TCP", "port": 443}]})
k8s.networking.v1.NetworkPolicy(
    "training-egress",
    metadata={"name": "training-egress", "namespace": NS},
    spec={"podSelector": {}, "policyTypes": ["Egress"], "egress": egress},
    opts=opts,
)
k8s.batch.v1.Job(
    "train-ranker",
    metadata={"name": "train-ranker", "namespace": NS},
    spec={"backoffLimit": 1, "template": {"spec": {
        "serviceAccountName": SA, "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "train", "image": "ghcr.io/acme/train-ranker:4.2.0",
                        "args": ["--data", "s3://acme-datasets/ranker/", "--out", "s3://acme-datasets/models/"],
                        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "4Gi"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}},
    opts=opts,
)
