"""Family `ip-capacity`, second review of the families (findings 3 and 5): pulumi-eks settings are mapped to aws-node
as its `computeEnv` (nodejs/eks/addons/cni-addon.ts, pulumi-eks 3328fbe) maps them, an eks:index:Cluster's
`vpcCniOptions` included, and an aws-node DaemonSetPatch is read only when it lands in kube-system. A /24 subnet
(251 usable addresses) and 20 m5.large nodes (600 addresses): the secondary-IP model gives a finding."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import R, messages
from .test_invariants_ip_capacity_zones import EKS, IP, nets, ng

ONE = nets(("sa", "us-east-1a", "10.0.1.0/24"))
WORKERS = ng("w", ["sa"], 20)
PREFIX = [{"name": "ENABLE_PREFIX_DELEGATION", "value": "true"}]


def cni_addon(**inputs: Any) -> R:
    return R("eks:index:VpcCniAddon", "cni", {"clusterName": "c", **inputs})


def judged(*extra: R) -> bool:
    return messages(IP, [EKS, *ONE, *extra, WORKERS]) != []


def test_the_stack_without_cni_settings_is_judged() -> None:
    assert judged()
    assert judged(cni_addon())


def test_cni_custom_network_cfg_is_custom_networking() -> None:
    """(a) `cniCustomNetworkCfg: true` sets AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: pods take the ENIConfigs' subnets."""
    assert not judged(cni_addon(cniCustomNetworkCfg=True))
    assert judged(cni_addon(cniCustomNetworkCfg=False))


def test_custom_network_config_is_overridden_by_upstreams_later_key() -> None:
    """(b) `computeEnv` writes AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG from `customNetworkConfig`, then again from
    `cniCustomNetworkCfg` or "false": the later write wins, so `customNetworkConfig` alone leaves it "false"."""
    assert judged(cni_addon(customNetworkConfig=True))
    assert not judged(cni_addon(customNetworkConfig=True, cniCustomNetworkCfg=True))
    over = cni_addon(customNetworkConfig=True, configurationValues={
        "env": {"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}})  # configurationValues.env is merged last
    assert not judged(over)


@pytest.mark.parametrize(("options", "judge"), [
    ({"enablePrefixDelegation": True}, False),
    ({"cniCustomNetworkCfg": True}, False),
    ({"customNetworkConfig": True}, True),
    ({}, True),
], ids=["prefix-delegation", "custom-network-cfg", "custom-network-config", "none"])
def test_an_eks_cluster_passes_vpc_cni_options_to_its_add_on(options: dict[str, Any], judge: bool) -> None:
    """(c) pulumi-eks Cluster makes a VpcCniAddon from `vpcCniOptions` (cluster.ts), a child the plan does not see."""
    cluster = R("eks:index:Cluster", "eks-cluster", {"vpcCniOptions": options})
    assert judged(cluster) is judge


def test_an_eks_cluster_on_the_default_vpc_cni_sets_nothing() -> None:
    cluster = R("eks:index:Cluster", "eks-cluster", {"useDefaultVpcCni": True,
                                                     "vpcCniOptions": {"enablePrefixDelegation": True}})
    assert judged(cluster)


def patch(namespace: str | None, provider: str | None = None) -> R:
    meta = {"name": "aws-node", **({"namespace": namespace} if namespace is not None else {})}
    return R("kubernetes:apps/v1:DaemonSetPatch", "aws-node-pd", {
        "metadata": meta, "spec": {"template": {"spec": {"containers": [{"name": "aws-node", "env": PREFIX}]}}}},
        provider=provider)


def k8s_provider(**inputs: Any) -> R:
    return R("pulumi:providers:kubernetes", "k8s", inputs)


def test_an_aws_node_patch_is_read_only_in_kube_system() -> None:
    """Finding 5: an unnamespaced patch lands in its provider's default namespace (pulumi-kubernetes `Check`)."""
    assert not judged(patch("kube-system"))
    assert judged(patch("default"))
    assert not judged(k8s_provider(kubeconfig="{}", namespace="kube-system"), patch(None, "k8s"))
    assert judged(k8s_provider(kubeconfig="{}", namespace="ml"), patch(None, "k8s"))
    assert judged(k8s_provider(kubeconfig="{}"), patch(None, "k8s"))  # a kubeconfig without contexts: default


def test_an_aws_node_patch_whose_namespace_is_not_known_makes_the_configuration_unknown() -> None:
    """A provider on the ambient kubeconfig: the patch may be kube-system's, so the family does not judge."""
    assert not judged(k8s_provider(), patch(None, "k8s"))
