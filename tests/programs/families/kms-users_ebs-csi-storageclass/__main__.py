"""kms-users family, a Kubernetes StorageClass that names a customer managed key: the EBS CSI driver (EKS add-on,
IRSA role with the AWS managed AmazonEBSCSIDriverPolicy) provisions gp3 volumes encrypted with `volumes-key` for a
vector database's PVCs.

bad: the driver's role has only the managed policy, which does not cover a customer managed key; without
kms:CreateGrant (for AWS resources) and kms:GenerateDataKey*/Decrypt on the key, CreateVolume fails and the PVCs
stay Pending."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
account = aws.get_caller_identity().account_id
SUBNETS = ["subnet-0e00000000000f001", "subnet-0e00000000000f002"]


def service_role(name: str, service: str, policies: list[str]) -> aws.iam.Role:
    role = aws.iam.Role(name, assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}))
    for policy in policies:
        aws.iam.RolePolicyAttachment(f"{name}-{policy}", role=role.name, policy_arn=f"arn:aws:iam::aws:policy/{policy}")
    return role


cluster = aws.eks.Cluster("vectors", name="vectors", version="1.33", vpc_config={"subnet_ids": SUBNETS},
                          role_arn=service_role("vectors-cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"]).arn)
aws.eks.NodeGroup("vectors-general", cluster_name=cluster.name, node_group_name="general", subnet_ids=SUBNETS,
                  node_role_arn=service_role("vectors-nodes", "ec2.amazonaws.com", [
                      "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"]).arn,
                  instance_types=["r6i.xlarge"], scaling_config={"min_size": 3, "desired_size": 3, "max_size": 6})
oidc = aws.iam.OpenIdConnectProvider("vectors-oidc", url=cluster.identities[0].oidcs[0].issuer,
                                     client_id_lists=["sts.amazonaws.com"])


def csi_trust(args: list[str]) -> str:
    arn, url = args
    host = url.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
                                       f"{host}:aud": "sts.amazonaws.com"}}}]})


csi_role = aws.iam.Role("ebs-csi-driver", name="ebs-csi-driver",
                        assume_role_policy=pulumi.Output.all(oidc.arn, oidc.url).apply(csi_trust))
aws.iam.RolePolicyAttachment("ebs-csi-driver-managed", role=csi_role.name,
                             policy_arn="arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy")
key = aws.kms.Key("volumes-key", description="CMK for vector database volumes", enable_key_rotation=True,
                  policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                      "Sid": "EnableIAMPolicies", "Effect": "Allow",
                      "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}))
if variant == "good":
    aws.iam.RolePolicy("ebs-csi-driver-kms", role=csi_role.id, policy=key.arn.apply(lambda arn: json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": arn,
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
            {"Effect": "Allow", "Resource": arn, "Action": [
                "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]},
        ]})))
addon = aws.eks.Addon("aws-ebs-csi-driver", cluster_name=cluster.name, addon_name="aws-ebs-csi-driver",
                      service_account_role_arn=csi_role.arn)

provider = k8s.Provider("vectors", kubeconfig=cluster.endpoint.apply(lambda e: json.dumps({
    "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "vectors", "cluster": {"server": e}}]})))
storage_class = k8s.storage.v1.StorageClass(
    "gp3-encrypted",
    metadata={"name": "gp3-encrypted"},
    provisioner="ebs.csi.aws.com",
    volume_binding_mode="WaitForFirstConsumer",
    allow_volume_expansion=True,
    parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key.arn},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[addon]),
)
ns = k8s.core.v1.Namespace("vectors", metadata={"name": "vectors"}, opts=pulumi.ResourceOptions(provider=provider))
k8s.core.v1.ServiceAccount("qdrant", metadata={"name": "qdrant", "namespace": "vectors"},
                           automount_service_account_token=False,
                           opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]))
k8s.apps.v1.StatefulSet(
    "qdrant",
    metadata={"name": "qdrant", "namespace": "vectors"},
    spec={"serviceName": "qdrant", "replicas": 3, "selector": {"matchLabels": {"app": "qdrant"}},
          "template": {"metadata": {"labels": {"app": "qdrant"}}, "spec": {
              "serviceAccountName": "qdrant",
              "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000,
                                  "seccompProfile": {"type": "RuntimeDefault"}},
              "containers": [{"name": "qdrant", "image": "qdrant/qdrant:v1.12.4",
                              "ports": [{"name": "http", "containerPort": 6333}, {"name": "grpc", "containerPort": 6334}],
                              "volumeMounts": [{"name": "storage", "mountPath": "/qdrant/storage"}],
                              "resources": {"requests": {"cpu": "1", "memory": "8Gi"}, "limits": {"memory": "8Gi"}},
                              "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}},
          "volumeClaimTemplates": [{"metadata": {"name": "storage"}, "spec": {
              "accessModes": ["ReadWriteOnce"], "storageClassName": "gp3-encrypted",
              "resources": {"requests": {"storage": "100Gi"}}}}]},
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns, storage_class]),
)
