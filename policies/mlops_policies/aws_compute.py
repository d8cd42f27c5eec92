"""Nodes: launch templates, EC2 instances and EKS managed node groups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, Stack, dig, each, is_unknown, known, resource_policy, stack_policy, truthy

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SUBNET = "aws:ec2/subnet:Subnet"
VOLUME = "aws:ebs/volume:Volume"


def _metadata(res: Resource) -> Mapping[str, Any] | None:
    meta = known(res.get("metadataOptions"), "metadataOptions")
    if meta is not None and known(meta.get("httpEndpoint"), "httpEndpoint") == "disabled":
        return None  # IMDS off entirely
    return meta if meta is not None else {}


@resource_policy(
    "mlops-ec2-imdsv2",
    types=[LAUNCH_TEMPLATE, INSTANCE],
    description="Instances and launch templates require IMDSv2 session tokens.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_79", "FSBP EC2.8", "CIS-EKS 3.2.1", "SOC2 CC6.1"),
    remediation="Set metadata_options={'http_tokens': 'required', 'http_endpoint': 'enabled', "
                "'http_put_response_hop_limit': 1}.",
)
def imdsv2(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    meta = _metadata(res)
    if meta is None:
        return
    tokens = known(meta.get("httpTokens"), "httpTokens")
    if tokens != "required":
        yield f"IMDSv2 is not required (metadataOptions.httpTokens is {tokens or 'unset'})"


@resource_policy(
    "mlops-ec2-imds-hop-limit",
    types=[LAUNCH_TEMPLATE, INSTANCE],
    description="The IMDS hop limit keeps pods from reaching the node's instance credentials.",
    severity="medium", pack="mlops-security",
    controls=("CKV_AWS_341", "CIS-EKS 3.2.1", "SOC2 CC6.1"),
    remediation="Set metadata_options.http_put_response_hop_limit to 1 (2 only for host-network pods that need IMDS).",
    config={"maxHopLimit": {"type": "integer", "minimum": 1, "default": 1}},
)
def hop_limit(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    meta = _metadata(res)
    if meta is None:
        return
    limit = known(meta.get("httpPutResponseHopLimit"), "httpPutResponseHopLimit")
    maximum = int(config.get("maxHopLimit") or 1)
    if limit is None:
        yield f"IMDS hop limit is unset; set httpPutResponseHopLimit to at most {maximum}"
    elif int(limit) > maximum:
        yield f"IMDS hop limit is {limit}; at most {maximum} allowed"


@resource_policy(
    "mlops-ec2-ebs-encrypted",
    types=[LAUNCH_TEMPLATE, INSTANCE, VOLUME],
    description="EBS volumes of nodes and instances are encrypted.",
    severity="high", pack="mlops-security",
    controls=("FSBP EC2.181", "FSBP EC2.3", "CKV_AWS_3", "SOC2 CC6.1", "ISO27001 A.8.24", "PCI-DSS 3.5.1"),
    remediation="Set ebs.encrypted ('true' on launch templates) and a customer-managed kms_key_id on every block device.",
)
def ebs_encrypted(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if res.type == VOLUME:
        if truthy(known(res.get("encrypted"), "encrypted")) is not True:
            yield "volume is not encrypted"
        return
    if res.type == LAUNCH_TEMPLATE:
        for bdm in known(res.get("blockDeviceMappings"), "blockDeviceMappings") or []:
            ebs = dig(bdm, "ebs")
            if ebs is None or is_unknown(ebs):
                continue
            if truthy(known(dig(ebs, "encrypted"), "ebs.encrypted")) is not True:
                yield f"block device {dig(bdm, 'deviceName') or '?'} is not encrypted"
        return
    root = known(res.get("rootBlockDevice"), "rootBlockDevice")
    if root is not None and truthy(known(dig(root, "encrypted"), "rootBlockDevice.encrypted")) is not True:
        yield "root block device is not encrypted"
    for dev in known(res.get("ebsBlockDevices"), "ebsBlockDevices") or []:
        if truthy(known(dig(dev, "encrypted"), "ebsBlockDevices.encrypted")) is not True:
            yield f"block device {dig(dev, 'deviceName') or '?'} is not encrypted"


@resource_policy(
    "mlops-ec2-no-public-ip",
    types=[LAUNCH_TEMPLATE, INSTANCE],
    description="Nodes and instances get no public IP address.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_88", "FSBP EC2.25", "FSBP EC2.9", "CIS-EKS 5.4.3", "SOC2 CC6.6", "PCI-DSS 1.4.4"),
    remediation="Set associate_public_ip_address to False and place nodes in private subnets behind NAT.",
)
def no_public_ip(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if res.type == INSTANCE:
        if truthy(known(res.get("associatePublicIpAddress"), "associatePublicIpAddress")):
            yield "instance associates a public IP address"
        return
    for i, nic in enumerate(known(res.get("networkInterfaces"), "networkInterfaces") or []):
        if truthy(known(dig(nic, "associatePublicIpAddress"), "associatePublicIpAddress")):
            yield f"network interface {i} associates a public IP address"


@resource_policy(
    "mlops-eks-nodegroup-no-open-ssh",
    types=[NODE_GROUP],
    description="Node groups with an SSH key restrict SSH to named security groups.",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_100", "FSBP EC2.13", "CIS-AWS 5.2", "SOC2 CC6.6", "PCI-DSS 1.3.1"),
    remediation="Drop remote_access (use SSM Session Manager), or set remote_access.source_security_group_ids.",
)
def no_open_ssh(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    remote = known(res.get("remoteAccess"), "remoteAccess")
    if not remote or not known(dig(remote, "ec2SshKey"), "ec2SshKey"):
        return
    if not known(dig(remote, "sourceSecurityGroupIds"), "sourceSecurityGroupIds"):
        yield "SSH key without sourceSecurityGroupIds opens port 22 to 0.0.0.0/0"


@stack_policy(
    "mlops-eks-nodes-private-subnets",
    description="Node groups run in private subnets (no public IP on launch).",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_130", "CIS-EKS 5.4.3", "SOC2 CC6.6", "PCI-DSS 1.4.4"),
    remediation="Pass only private subnet ids (map_public_ip_on_launch=False, default route via NAT) to the node group.",
)
def nodes_private_subnets(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(group: Resource) -> Iterable[str]:
        for subnet in stack.referenced(group, "subnetIds", [SUBNET]):
            if truthy(known(subnet.get("mapPublicIpOnLaunch"), "mapPublicIpOnLaunch")):
                yield f"node group uses public subnet {subnet.name} (mapPublicIpOnLaunch)"

    return each(stack.of_type(NODE_GROUP), check)
