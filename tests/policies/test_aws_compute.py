"""Launch template, instance and node group policies."""

from __future__ import annotations

from mlops_policies.aws_compute import INSTANCE, LAUNCH_TEMPLATE, NODE_GROUP, SUBNET, VOLUME

from .cases import Case, check, params
from .helpers import R

META = {"httpTokens": "required", "httpEndpoint": "enabled", "httpPutResponseHopLimit": 1}
LT_GOOD = {"metadataOptions": META,
           "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 100}}],
           "networkInterfaces": [{"associatePublicIpAddress": "false"}]}

CASES = [
    Case("required", "mlops-ec2-imdsv2", [R(LAUNCH_TEMPLATE, "lt", LT_GOOD)], []),
    Case("imds-disabled", "mlops-ec2-imdsv2", [R(INSTANCE, "vm", {"metadataOptions": {"httpEndpoint": "disabled"}})], []),
    Case("optional", "mlops-ec2-imdsv2", [R(LAUNCH_TEMPLATE, "lt", {"metadataOptions": {"httpTokens": "optional"}})],
         ["lt: IMDSv2 is not required (metadataOptions.httpTokens is optional)"]),
    Case("unset", "mlops-ec2-imdsv2", [R(INSTANCE, "vm", {})],
         ["vm: IMDSv2 is not required (metadataOptions.httpTokens is unset)"]),
    Case("one", "mlops-ec2-imds-hop-limit", [R(LAUNCH_TEMPLATE, "lt", LT_GOOD)], []),
    Case("two", "mlops-ec2-imds-hop-limit",
         [R(LAUNCH_TEMPLATE, "lt", {"metadataOptions": {**META, "httpPutResponseHopLimit": 2}})],
         ["lt: IMDS hop limit is 2; at most 1 allowed"]),
    Case("two-allowed-by-config", "mlops-ec2-imds-hop-limit",
         [R(LAUNCH_TEMPLATE, "lt", {"metadataOptions": {**META, "httpPutResponseHopLimit": 2}})], [],
         config={"maxHopLimit": 2}),
    Case("unset", "mlops-ec2-imds-hop-limit", [R(LAUNCH_TEMPLATE, "lt", {"metadataOptions": {"httpTokens": "required"}})],
         ["lt: IMDS hop limit is unset; set httpPutResponseHopLimit to at most 1"]),
    Case("encrypted", "mlops-ec2-ebs-encrypted", [R(LAUNCH_TEMPLATE, "lt", LT_GOOD),
                                                  R(VOLUME, "vol", {"encrypted": True})], []),
    Case("lt-plain", "mlops-ec2-ebs-encrypted", [R(LAUNCH_TEMPLATE, "lt", {"blockDeviceMappings": [
        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]})], ["lt: block device /dev/xvda is not encrypted"]),
    Case("instance-root", "mlops-ec2-ebs-encrypted", [R(INSTANCE, "vm", {"rootBlockDevice": {"volumeSize": 8}})],
         ["vm: root block device is not encrypted"]),
    Case("volume", "mlops-ec2-ebs-encrypted", [R(VOLUME, "vol", {"size": 10})], ["vol: volume is not encrypted"]),
    Case("private", "mlops-ec2-no-public-ip", [R(LAUNCH_TEMPLATE, "lt", LT_GOOD), R(INSTANCE, "vm", {})], []),
    Case("lt-public", "mlops-ec2-no-public-ip",
         [R(LAUNCH_TEMPLATE, "lt", {"networkInterfaces": [{"associatePublicIpAddress": "true"}]})],
         ["lt: network interface 0 associates a public IP address"]),
    Case("instance-public", "mlops-ec2-no-public-ip", [R(INSTANCE, "vm", {"associatePublicIpAddress": True})],
         ["vm: instance associates a public IP address"]),
    Case("no-remote-access", "mlops-eks-nodegroup-no-open-ssh", [R(NODE_GROUP, "ng", {})], []),
    Case("scoped", "mlops-eks-nodegroup-no-open-ssh", [R(NODE_GROUP, "ng", {"remoteAccess": {
        "ec2SshKey": "ops", "sourceSecurityGroupIds": ["sg-1"]}})], []),
    Case("open", "mlops-eks-nodegroup-no-open-ssh", [R(NODE_GROUP, "ng", {"remoteAccess": {"ec2SshKey": "ops"}})],
         ["ng: SSH key without sourceSecurityGroupIds opens port 22 to 0.0.0.0/0"]),
    Case("private", "mlops-eks-nodes-private-subnets",
         [R(SUBNET, "private-a", {"mapPublicIpOnLaunch": False}),
          R(NODE_GROUP, "ng", {"subnetIds": ["subnet-a"]}, {"subnetIds": ["private-a"]})], []),
    Case("public", "mlops-eks-nodes-private-subnets",
         [R(SUBNET, "private-a", {}), R(SUBNET, "public-a", {"mapPublicIpOnLaunch": True}),
          R(NODE_GROUP, "ng", {"subnetIds": ["a", "b"]}, {"subnetIds": ["private-a", "public-a"]})],
         ["ng: node group uses public subnet public-a (mapPublicIpOnLaunch)"]),
]


@params(CASES)
def test_compute(case: Case) -> None:
    check(case)
