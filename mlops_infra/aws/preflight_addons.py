"""Preflight for the pinned EKS add-on versions: each must be one EKS offers for `cluster.version`.

Config can only check kube-proxy (its minor is the cluster's); for the others the compatible versions are known to
EKS alone (`DescribeAddonVersions` with `kubernetesVersion`: each version lists its `compatibilities`), so
`mlops-infra preflight` asks it for every add-on the stack installs and fails a version EKS does not list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from ..platform.config import PlatformConfig
from .results import Check
from .session import Aws, error_code

_NOT_IMPLEMENTED = frozenset({"404", "NotImplemented", "InvalidAction", "UnknownOperationException"})


def installed(config: PlatformConfig) -> dict[str, str]:
    """EKS add-on name -> pinned version, for the add-ons this config installs (compute/cluster_addons.py)."""
    v = config.cluster.addons
    out = {"vpc-cni": v.vpc_cni, "coredns": v.coredns, "kube-proxy": v.kube_proxy, "aws-ebs-csi-driver": v.ebs_csi_driver,
           "eks-pod-identity-agent": v.pod_identity_agent, "metrics-server": v.metrics_server}
    if config.cluster.container_insights:
        out["amazon-cloudwatch-observability"] = v.cloudwatch_observability
    return out


@dataclass
class AddonFacts:
    offered: dict[str, set[str]] = field(default_factory=dict)
    """Add-on name -> versions EKS offers for the cluster's Kubernetes version."""
    note: str | None = None
    """Why the versions could not be read (the endpoint lacks the API), else None."""


def gather_addons(aws: Aws, config: PlatformConfig) -> AddonFacts:
    facts = AddonFacts()
    for name in installed(config):
        try:
            pages = aws.eks.get_paginator("describe_addon_versions").paginate(
                addonName=name, kubernetesVersion=config.cluster.version)
            facts.offered[name] = {v["addonVersion"] for page in pages for a in page.get("addons", [])
                                   for v in a.get("addonVersions", [])}
        except ClientError as exc:
            if error_code(exc) not in _NOT_IMPLEMENTED:
                raise
            facts.note = f"{error_code(exc)}: this endpoint has no DescribeAddonVersions"
            return facts
    return facts


def addon_checks(config: PlatformConfig, facts: AddonFacts) -> list[Check]:
    k8s = config.cluster.version
    checks = []
    for name, version in installed(config).items():
        subject, control = f"add-on {name}", f"{version} on Kubernetes {k8s}"
        if facts.note is not None:
            checks.append(Check(subject, control, "WARN", f"not checked ({facts.note})"))
        elif version in facts.offered.get(name, set()):
            checks.append(Check(subject, control, "PASS", "offered by EKS for this Kubernetes version"))
        else:
            newest = sorted(facts.offered.get(name, set()))[-3:]
            checks.append(Check(subject, control, "FAIL", f"EKS does not offer {version} for Kubernetes {k8s}",
                                f"pin one EKS lists (`aws eks describe-addon-versions --addon-name {name} "
                                f"--kubernetes-version {k8s}`){'; e.g. ' + ', '.join(newest) if newest else ''}"))
    return checks
