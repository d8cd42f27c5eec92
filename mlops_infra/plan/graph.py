"""A Mermaid diagram of a plan: components as nested subgraphs, key resources as nodes, dependencies as edges.

Edges join key resources; a dependency through resources that are not drawn (policies, attachments) is followed
until it reaches a drawn one, so the picture keeps the real data flow without the noise.
"""

from __future__ import annotations

import re
from collections import defaultdict

from .inventory import Inventory, ResourceRecord

# Types worth a node: the things an architect would draw.
KEY_TYPES: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "VPC",
    "aws:ec2/natGateway:NatGateway": "NAT gateway",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "VPC endpoint",
    "aws:eks/cluster:Cluster": "EKS cluster",
    "aws:eks/nodeGroup:NodeGroup": "node group",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "OIDC provider",
    "aws:kms/key:Key": "KMS key",
    "aws:s3/bucket:Bucket": "S3 bucket",
    "aws:rds/instance:Instance": "RDS Postgres",
    "aws:dynamodb/table:Table": "DynamoDB table",
    "aws:elasticache/replicationGroup:ReplicationGroup": "Redis",
    "aws:sns/topic:Topic": "SNS topic",
    "aws:cloudtrail/trail:Trail": "CloudTrail",
    "aws:guardduty/detector:Detector": "GuardDuty",
    "aws:sagemaker/featureGroup:FeatureGroup": "feature group",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "model package group",
    "aws:amp/workspace:Workspace": "AMP workspace",
    "kubernetes:helm.sh/v3:Release": "Helm release",
    "kubernetes:apps/v1:Deployment": "Deployment",
    "kubernetes:batch/v1:CronJob": "CronJob",
    "pulumi:providers:kubernetes": "k8s provider",
    "pulumi:pulumi:StackReference": "stack reference",
}


def _ident(urn: str, ids: dict[str, str]) -> str:
    if urn not in ids:
        ids[urn] = f"n{len(ids) + 1}"
    return ids[urn]


def _label(record: ResourceRecord) -> str:
    kind = KEY_TYPES.get(record.type) or record.type.split(":")[-1]
    name = re.sub(r'["<>]', "", record.name)
    return f'"{kind}<br/>{name}"'


def mermaid(inventory: Inventory) -> str:
    index = inventory.by_urn()
    key = {r.urn for r in inventory if r.type in KEY_TYPES}
    components = {r.urn for r in inventory if not r.custom}
    children: dict[str | None, list[ResourceRecord]] = defaultdict(list)
    for record in inventory:
        children[record.parent].append(record)

    def contains_key(urn: str) -> bool:
        return urn in key or any(contains_key(c.urn) for c in children[urn] if c.urn in components or c.urn in key)

    ids: dict[str, str] = {}
    lines = ["flowchart LR"]

    def emit(parent: str | None, depth: int) -> None:
        pad = "  " * depth
        for record in sorted(children[parent], key=lambda r: r.urn):
            if record.urn in components and contains_key(record.urn):
                lines.append(f'{pad}subgraph {_ident(record.urn, ids)}["{record.name}<br/>{record.type}"]')
                emit(record.urn, depth + 1)
                lines.append(f"{pad}end")
            elif record.urn in key:
                lines.append(f"{pad}{_ident(record.urn, ids)}[{_label(record)}]")

    emit(None, 1)

    def key_deps(urn: str) -> set[str]:
        seen: set[str] = set()
        found: set[str] = set()
        stack = list(index[urn].dependencies) if urn in index else []
        while stack:
            dep = stack.pop()
            if dep in seen or dep not in index:
                continue
            seen.add(dep)
            if dep in key:
                found.add(dep)
            elif dep not in components:
                stack.extend(index[dep].dependencies)
        return found

    edge_set = {(dep, urn) for urn in key for dep in key_deps(urn) if dep != urn}
    # A companion resource (e.g. a bucket's encryption config) links what it uses to the key resource it serves:
    # the key resources it depends on that share its parent are its subjects.
    for record in inventory:
        if record.urn in key or record.urn in components:
            continue
        deps = key_deps(record.urn)
        subjects = {d for d in deps if index[d].parent == record.parent}
        edge_set |= {(d, s) for s in subjects for d in deps - subjects}
    edges = sorted(edge_set, key=lambda e: (ids.get(e[0], ""), ids.get(e[1], "")))
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in edges if a in ids and b in ids]
    return "\n".join(lines)
