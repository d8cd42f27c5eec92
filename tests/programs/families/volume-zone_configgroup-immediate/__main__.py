"""Volume-zone family, YAML text through `kubernetes.yaml.ConfigGroup`: a `platform` node group spread over
us-east-1a, 1b and 1c, and a `notebooks` node group (label pool=notebooks) in us-east-1a only. The manifests make a
gp3 StorageClass of the EBS CSI driver, a PersistentVolumeClaim `notebook-home` of that class, and a notebook
Deployment pinned to the notebooks pool that mounts the claim.

bad: the StorageClass binds `Immediate`. The claim is provisioned before any pod uses it, in a zone the provisioner
picks among the cluster's nodes (1a, 1b or 1c), without regard to the notebook's node selector; a volume made in 1b
or 1c can never attach to a notebooks node (pod Pending, "volume node affinity conflict"). WaitForFirstConsumer
makes the volume in the zone of the node the scheduler picked for the pod."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
binding = "WaitForFirstConsumer" if variant == "good" else "Immediate"

vpc = aws.ec2.Vpc("ml", cidr_block="10.40.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
subnets = {zone: aws.ec2.Subnet(f"private-{zone[-1]}", vpc_id=vpc.id, availability_zone=zone,
                                cidr_block=f"10.40.{i * 32}.0/19")
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
aws.eks.NodeGroup("platform", cluster_name=cluster.name, node_group_name="platform", node_role_arn=node_role.arn,
                  subnet_ids=[s.id for s in subnets.values()], instance_types=["m6i.large"],
                  scaling_config={"min_size": 3, "desired_size": 3, "max_size": 6})
# The GPU capacity reservation is in us-east-1a, so the notebook group lives there alone.
aws.eks.NodeGroup("notebooks", cluster_name=cluster.name, node_group_name="notebooks", node_role_arn=node_role.arn,
                  subnet_ids=[subnets["us-east-1a"].id], instance_types=["g5.2xlarge"], ami_type="AL2023_x86_64_NVIDIA",
                  labels={"pool": "notebooks"}, scaling_config={"min_size": 1, "desired_size": 1, "max_size": 3})

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
    "protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.40.0.0/16"]}])
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

MANIFESTS = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: gp3
provisioner: ebs.csi.aws.com
volumeBindingMode: BINDING
allowVolumeExpansion: true
parameters:
  type: gp3
  encrypted: "true"
---
apiVersion: v1
kind: Namespace
metadata:
  name: research
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: notebook
  namespace: research
automountServiceAccountToken: false
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: notebook-home
  namespace: research
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: gp3
  resources:
    requests:
      storage: 50Gi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: notebook
  namespace: research
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app: notebook
  template:
    metadata:
      labels:
        app: notebook
    spec:
      serviceAccountName: notebook
      nodeSelector:
        pool: notebooks
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        fsGroup: 100
        seccompProfile: {type: RuntimeDefault}
      volumes:
        - name: home
          persistentVolumeClaim:
            claimName: notebook-home
      containers:
        - name: jupyter
          image: quay.io/jupyter/pytorch-notebook:2025-01-06
          ports:
            - {name: http, containerPort: 8888}
          resources:
            requests: {cpu: "2", memory: 8Gi}
            limits: {memory: 8Gi}
          volumeMounts:
            - {name: home, mountPath: /home/jovyan}
          securityContext:
            allowPrivilegeEscalation: false
            runAsNonRoot: true
            capabilities: {drop: [ALL]}
            seccompProfile: {type: RuntimeDefault}
"""

k8s.yaml.ConfigGroup("notebooks", yaml=[MANIFESTS.replace("BINDING", binding)],
                     opts=pulumi.ResourceOptions(provider=provider))
