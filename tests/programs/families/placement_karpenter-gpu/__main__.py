"""Placement family, Karpenter objects (karpenter.sh/v1 NodePool, karpenter.k8s.aws/v1 EC2NodeClass) as
CustomResources, with the NVIDIA device plugin as a raw DaemonSet and a GPU training Job.

The `gpu` NodePool launches g5.xlarge/g5.2xlarge nodes tainted nvidia.com/gpu=true:NoSchedule. The Job requests
nvidia.com/gpu: 1, selects the pool and tolerates the taint.
bad: the device-plugin DaemonSet carries no toleration for nvidia.com/gpu, so it never runs on the GPU nodes; they
never advertise nvidia.com/gpu and the Job stays Pending."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")

node_role = aws.iam.Role("karpenter-node", name="KarpenterNodeRole-research", assume_role_policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly",
               "AmazonSSMManagedInstanceCore"):
    aws.iam.RolePolicyAttachment(f"karpenter-node-{policy}", role=node_role.name,
                                 policy_arn=f"arn:aws:iam::aws:policy/{policy}")

discovery = {"karpenter.sh/discovery": "research"}
node_class = k8s.apiextensions.CustomResource(
    "gpu-nodeclass",
    api_version="karpenter.k8s.aws/v1",
    kind="EC2NodeClass",
    metadata={"name": "gpu"},
    spec={"role": node_role.name, "amiSelectorTerms": [{"alias": "al2023@latest"}],
          "subnetSelectorTerms": [{"tags": discovery}], "securityGroupSelectorTerms": [{"tags": discovery}],
          "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "200Gi", "volumeType": "gp3",
                                                                       "encrypted": True}}]},
)
k8s.apiextensions.CustomResource(
    "gpu-nodepool",
    api_version="karpenter.sh/v1",
    kind="NodePool",
    metadata={"name": "gpu"},
    spec={
        "template": {"spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
            "requirements": [
                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5.xlarge", "g5.2xlarge"]},
                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
            ],
            "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
        }},
        "limits": {"nvidia.com/gpu": 8},
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "10m"},
    },
    opts=pulumi.ResourceOptions(depends_on=[node_class]),
)

plugin_tolerations = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
k8s.apps.v1.DaemonSet(
    "nvidia-device-plugin-daemonset",
    metadata={"name": "nvidia-device-plugin-daemonset", "namespace": "kube-system"},
    spec={
        "selector": {"matchLabels": {"name": "nvidia-device-plugin-ds"}},
        "updateStrategy": {"type": "RollingUpdate"},
        "template": {
            "metadata": {"labels": {"name": "nvidia-device-plugin-ds"}},
            "spec": {
                "priorityClassName": "system-node-critical",
                "tolerations": plugin_tolerations if variant == "good" else [],
                "containers": [{
                    "name": "nvidia-device-plugin-ctr",
                    "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
                    "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                    "volumeMounts": [{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}],
                }],
                "volumes": [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}],
            },
        },
    },
)

ns = k8s.core.v1.Namespace("research", metadata={"name": "research"})
k8s.core.v1.ServiceAccount("finetune", metadata={"name": "finetune", "namespace": "research"},
                           automount_service_account_token=False, opts=pulumi.ResourceOptions(depends_on=[ns]))
k8s.batch.v1.Job(
    "llm-finetune",
    metadata={"name": "llm-finetune", "namespace": "research"},
    spec={
        "backoffLimit": 2,
        "template": {"spec": {
            "restartPolicy": "Never",
            "serviceAccountName": "finetune",
            "nodeSelector": {"karpenter.sh/nodepool": "gpu"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "train",
                "image": "ghcr.io/acme/finetune:0.9.3",
                "resources": {"requests": {"cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "1"},
                              "limits": {"memory": "12Gi", "nvidia.com/gpu": "1"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }],
        }},
    },
    opts=pulumi.ResourceOptions(depends_on=[ns]),
)
