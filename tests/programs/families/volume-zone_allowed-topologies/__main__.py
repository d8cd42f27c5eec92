"""Volume-zone family, raw objects: a VPC with private subnets in us-east-1a, 1b and 1c, an EKS cluster on all three,
and one managed node group `general` whose subnets are 1a and 1b. A gp3 StorageClass `ebs-zonal` (EBS CSI driver,
WaitForFirstConsumer) restricts where its volumes may be made with `allowedTopologies`; the vector database is a
StatefulSet whose volumeClaimTemplates use that class.

bad: `allowedTopologies` names only us-east-1c (the author copied the zone of the spare subnet). An EBS volume can
attach only to an instance in its own Availability Zone, and no node of `general` runs in 1c: the scheduler finds no
node for the pod and its volume (pods stay Pending, "didn't find available persistent volumes to bind" /
"volume node affinity conflict")."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
allowed_zones = ["us-east-1a", "us-east-1b"] if variant == "good" else ["us-east-1c"]

vpc = aws.ec2.Vpc("ml", cidr_block="10.20.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
subnets = {zone: aws.ec2.Subnet(f"private-{zone[-1]}", vpc_id=vpc.id, availability_zone=zone,
                                cidr_block=f"10.20.{i * 32}.0/19")
           for i, zone in enumerate(("us-east-1a", "us-east-1b", "us-east-1c"))}


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
                          vpc_config={"subnet_ids": [s.id for s in subnets.values()],
                                      "endpoint_private_access": True},
                          access_config={"authentication_mode": "API"})
aws.eks.NodeGroup("general", cluster_name=cluster.name, node_group_name="general", node_role_arn=node_role.arn,
                  subnet_ids=[subnets["us-east-1a"].id, subnets["us-east-1b"].id], instance_types=["m6i.xlarge"],
                  scaling_config={"min_size": 2, "desired_size": 2, "max_size": 6})

# EKS 1.33 has no in-tree EBS provisioner and installs no CSI driver: the aws-ebs-csi-driver add-on provisions and
# attaches the volumes, its controller (kube-system/ebs-csi-controller-sa) assuming an IRSA role with the AWS managed
# AmazonEBSCSIDriverPolicy (EKS user guide, "Use Kubernetes volume storage with Amazon EBS").
oidc = aws.iam.OpenIdConnectProvider("ml-oidc", url=cluster.identities[0].oidcs[0].issuer,
                                     client_id_lists=["sts.amazonaws.com"])


def ebs_csi_trust(args: list[str]) -> str:
    arn, url = args
    issuer = url.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
                                       f"{issuer}:aud": "sts.amazonaws.com"}}}]})


ebs_csi_role = aws.iam.Role("ebs-csi-driver", assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(
    ebs_csi_trust))
aws.iam.RolePolicyAttachment("ebs-csi-driver", role=ebs_csi_role.name,
                             policy_arn="arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy")
# The driver's controller calls EC2 and STS (its IRSA token) from private subnets without NAT: interface endpoints.
endpoint_sg = aws.ec2.SecurityGroup("aws-endpoints", vpc_id=vpc.id, ingress=[{
    "protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.20.0.0/16"]}])
for service in ("ec2", "sts"):
    aws.ec2.VpcEndpoint(f"endpoint-{service}", vpc_id=vpc.id, service_name=f"com.amazonaws.us-east-1.{service}",
                        vpc_endpoint_type="Interface", private_dns_enabled=True,
                        subnet_ids=[s.id for s in subnets.values()], security_group_ids=[endpoint_sg.id])
ebs_csi = aws.eks.Addon("aws-ebs-csi-driver", cluster_name=cluster.name, addon_name="aws-ebs-csi-driver",
                        service_account_role_arn=ebs_csi_role.arn)


def kubeconfig(args: list[str]) -> str:
    name, endpoint, ca = args
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                   "command": "aws", "args": ["eks", "get-token", "--cluster-name", name]}}}]})


provider = k8s.Provider("ml", kubeconfig=pulumi.Output.all(cluster.name, cluster.endpoint,
                                                           cluster.certificate_authority.data).apply(kubeconfig))
k8s_opts = pulumi.ResourceOptions(provider=provider)
storage_class = k8s.storage.v1.StorageClass(
    "ebs-zonal", metadata={"name": "ebs-zonal"}, provisioner="ebs.csi.aws.com",
    volume_binding_mode="WaitForFirstConsumer", parameters={"type": "gp3", "encrypted": "true"},
    allowed_topologies=[{"match_label_expressions": [{"key": "topology.ebs.csi.aws.com/zone",
                                                      "values": allowed_zones}]}],
    opts=k8s_opts)
ns = k8s.core.v1.Namespace("vectors", metadata={"name": "vectors"}, opts=k8s_opts)
opts = pulumi.ResourceOptions(provider=provider, depends_on=[ns, storage_class])
k8s.core.v1.ServiceAccount("vector-db", metadata={"name": "vector-db", "namespace": "vectors"},
                           automount_service_account_token=False, opts=opts)
k8s.apps.v1.StatefulSet(
    "vector-db",
    metadata={"name": "vector-db", "namespace": "vectors"},
    spec={
        "serviceName": "vector-db",
        "replicas": 1,
        "selector": {"matchLabels": {"app": "vector-db"}},
        "template": {
            "metadata": {"labels": {"app": "vector-db"}},
            "spec": {
                "serviceAccountName": "vector-db",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "db",
                    "image": "docker.io/qdrant/qdrant:v1.13.4",
                    "ports": [{"name": "http", "containerPort": 6333}],
                    "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "4Gi"}},
                    "volumeMounts": [{"name": "storage", "mountPath": "/qdrant/storage"}],
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
                }],
            },
        },
        "volumeClaimTemplates": [{
            "metadata": {"name": "storage"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "ebs-zonal",
                     "resources": {"requests": {"storage": "100Gi"}}},
        }],
    },
    opts=opts,
)
