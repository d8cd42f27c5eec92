"""Volume-zone family, a static volume: a dataset snapshot restored as an `aws.ebs.Volume`, exposed as a
PersistentVolume of the EBS CSI driver (volumeHandle = the volume id, node affinity = the volume's zone) and bound
by name to a PersistentVolumeClaim that the trainer mounts. The cluster has a `system` node group in 1a, 1b and 1c,
and a `training` node group (label workload=training) in us-east-1a only; the trainer selects `training`.

bad: the volume is created in us-east-1b. An EBS volume attaches only to an instance of its own Availability Zone,
and no `training` node runs in 1b: the trainer stays Pending ("volume node affinity conflict")."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
volume_zone = "us-east-1a" if variant == "good" else "us-east-1b"

vpc = aws.ec2.Vpc("ml", cidr_block="10.30.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
subnets = {zone: aws.ec2.Subnet(f"nodes-{zone}", vpc_id=vpc.id, availability_zone=zone,
                                cidr_block=f"10.30.{i * 64}.0/18")
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
aws.eks.NodeGroup("system", cluster_name=cluster.name, node_group_name="system", node_role_arn=node_role.arn,
                  subnet_ids=[s.id for s in subnets.values()], instance_types=["m6i.large"],
                  scaling_config={"min_size": 3, "desired_size": 3, "max_size": 6})
aws.eks.NodeGroup("training", cluster_name=cluster.name, node_group_name="training", node_role_arn=node_role.arn,
                  subnet_ids=[subnets["us-east-1a"].id], instance_types=["m6i.4xlarge"], labels={"workload": "training"},
                  scaling_config={"min_size": 1, "desired_size": 1, "max_size": 4})

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
    "protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.30.0.0/16"]}])
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
volume = aws.ebs.Volume("datasets", availability_zone=volume_zone, size=500, type="gp3", encrypted=True,
                        tags={"Name": "datasets"})
ns = k8s.core.v1.Namespace("training", metadata={"name": "training"}, opts=pulumi.ResourceOptions(provider=provider))
opts = pulumi.ResourceOptions(provider=provider, depends_on=[ns])
pv = k8s.core.v1.PersistentVolume(
    "datasets",
    metadata={"name": "datasets"},
    spec={
        "capacity": {"storage": "500Gi"},
        "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "",
        "csi": {"driver": "ebs.csi.aws.com", "fsType": "ext4", "volumeHandle": volume.id},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{
            "key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": [volume.availability_zone]}]}]}},
    },
    opts=pulumi.ResourceOptions(provider=provider))
k8s.core.v1.PersistentVolumeClaim(
    "datasets",
    metadata={"name": "datasets", "namespace": "training"},
    spec={"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": "datasets",
          "resources": {"requests": {"storage": "500Gi"}}},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns, pv]))
k8s.core.v1.ServiceAccount("trainer", metadata={"name": "trainer", "namespace": "training"},
                           automount_service_account_token=False, opts=opts)
k8s.apps.v1.Deployment(
    "trainer",
    metadata={"name": "trainer", "namespace": "training"},
    spec={
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": {"app": "trainer"}},
        "template": {
            "metadata": {"labels": {"app": "trainer"}},
            "spec": {
                "serviceAccountName": "trainer",
                "nodeSelector": {"workload": "training"},
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "datasets", "readOnly": True}}],
                "containers": [{
                    "name": "trainer",
                    "image": "ghcr.io/acme/trainer:2.3.0",
                    "resources": {"requests": {"cpu": "8", "memory": "32Gi"}, "limits": {"memory": "32Gi"}},
                    "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
                }],
            },
        },
    },
    opts=opts,
)
