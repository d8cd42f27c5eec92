"""The VPC CNI's (aws-node) environment as a stack sets it, for the `ip-capacity` family: the vpc-cni add-on
(aws:eks/addon configurationValues; pulumi-eks VpcCniAddon inputs or an eks:index:Cluster's `vpcCniOptions`, mapped as
pulumi-eks `computeEnv` maps them), then the aws-node container of a DaemonSet or DaemonSetPatch that lands in
kube-system."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from .core import UNKNOWN, Resource, as_list
from .invariants_index import ADDON, Index, doc

AWS_NODE_ENV = ("ENABLE_PREFIX_DELEGATION", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG")
"""The variables that switch to another address model (prefix delegation, custom networking)."""
VPC_CNI_ADDON = "eks:index:VpcCniAddon"
EKS_CLUSTER = "eks:index:Cluster"
VPC_CNI_PROPS = (("cniCustomNetworkCfg", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "false"),
                 ("warmEniTarget", "WARM_ENI_TARGET", "1"), ("warmIpTarget", "WARM_IP_TARGET", None),
                 ("enablePrefixDelegation", "ENABLE_PREFIX_DELEGATION", None))
"""pulumi-eks VpcCniAddon inputs -> the aws-node variable it sets, and the value it sets when the input is absent
(None: none set). As nodejs/eks/addons/cni-addon.ts `computeEnv` (pulumi-eks 3328fbe) sets them: a truthy input is
written as a string, WARM_ENI_TARGET is always written (`warmEniTarget ?? 1`), and AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG is
written last from `cniCustomNetworkCfg` or "false", so it overrides what `customNetworkConfig` wrote before it (the
later key wins in the `reduce`): `customNetworkConfig` is not read. The add-on's configurationValues.env is merged over
them (mergeConfigurationValues)."""
AWS_NODE = ("kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:DaemonSetPatch")


JUDGED_ENV = (*AWS_NODE_ENV, "WARM_ENI_TARGET", "WARM_IP_TARGET", "MINIMUM_IP_TARGET", "MAX_ENI")
"""The aws-node variables this family reads: one of them not known at plan time makes the configuration unknown."""


def _env_values(values: Any) -> dict[str, str] | None:
    """A {name: value} map or a core/v1 EnvVar list, as strings; None: a variable the family reads is not known at
    plan time (an unknown value, or a reference: valueFrom). Others are left out when not known."""
    pairs = values.items() if isinstance(values, Mapping) else [
        (e.get("name"), e.get("value", UNKNOWN if "valueFrom" in e else "")) for e in as_list(values)
        if isinstance(e, Mapping)]
    env = {}
    for name, value in pairs:
        if name is UNKNOWN or (value is UNKNOWN and name in JUDGED_ENV):
            return None
        if value is not UNKNOWN:
            env[str(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def _addon_env(addon: Resource, inputs: Any = None) -> dict[str, str] | None:
    """The aws-node environment an add-on sets: aws:eks/addon's configurationValues, or a pulumi-eks VpcCniAddon's
    inputs (`inputs`: the `vpcCniOptions` an eks:index:Cluster passes to the VpcCniAddon it makes)."""
    env: dict[str, str] = {}
    if inputs is None and addon.type == VPC_CNI_ADDON:
        inputs = addon.props
    if inputs is UNKNOWN:
        return None
    if isinstance(inputs, Mapping):
        for prop, var, absent in VPC_CNI_PROPS:
            value = inputs.get(prop)
            if value is UNKNOWN:
                return None
            if value not in (None, False, 0, "") or (var == "WARM_ENI_TARGET" and value == 0):
                env[var] = str(value).lower() if isinstance(value, bool) else str(value)
            elif absent is not None:
                env[var] = absent
    cfg = inputs.get("configurationValues") if isinstance(inputs, Mapping) else addon.get("configurationValues")
    cfg = cfg if isinstance(cfg, Mapping) else doc(cfg)  # pulumi-eks takes an object, aws:eks/addon a JSON string
    if cfg is UNKNOWN:
        return None
    found = _env_values(cfg.get("env") if isinstance(cfg, Mapping) else None)
    return None if found is None else {**env, **found}


def _eks_vpc_cni(cluster: Resource) -> Any:
    """The VpcCniAddon inputs of a pulumi-eks Cluster (its `vpcCniOptions`; the add-on is a child the plan does not
    see): None when it makes none (cluster.ts: unless `useDefaultVpcCni`, or, without it, EKS Auto Mode), UNKNOWN when
    that is not known at plan time."""
    default_cni, auto = cluster.get("useDefaultVpcCni"), cluster.get("autoMode", "enabled")
    if default_cni is UNKNOWN or (default_cni is None and auto is UNKNOWN):
        return UNKNOWN
    if default_cni is True or (default_cni is None and auto is True):
        return None
    options = cluster.get("vpcCniOptions")
    return {} if options is None else options


def _on_kube_system(ds: Resource) -> bool | None:
    """Whether an aws-node DaemonSet(Patch) is kube-system's: its namespace, else its provider's default namespace
    (pulumi-kubernetes `Check`; `kube_identity.provider_namespace` when mlops_infra is installed beside, else the
    provider's `namespace` input); None when that is not known at plan time."""
    ns = ds.get("metadata", "namespace")
    if ns is UNKNOWN:
        return None
    if isinstance(ns, str) and ns:
        return ns == "kube-system"
    provider = ds.provider_props or {}
    if importlib.util.find_spec("mlops_infra") is not None:
        from mlops_infra.plan.kube_identity import provider_namespace

        found = provider_namespace(provider)
    else:
        found = provider.get("namespace") if isinstance(provider.get("namespace"), str) else None
    return None if found is None else found == "kube-system"


def cni_env(idx: Index) -> dict[str, str] | None:
    """The VPC CNI's (aws-node) environment as the stack sets it: the vpc-cni add-on's configuration (aws:eks/addon,
    pulumi-eks VpcCniAddon or an eks:index:Cluster's `vpcCniOptions`), then the aws-node container of a DaemonSet or
    DaemonSetPatch in kube-system (`_on_kube_system`); None: unknown."""
    env: dict[str, str] = {}
    for addon in [a for a in idx.of_type(ADDON) if a.get("addonName") == "vpc-cni"] + idx.of_type(VPC_CNI_ADDON):
        found = _addon_env(addon)
        if found is None:
            return None
        env.update(found)
    for cluster in idx.of_type(EKS_CLUSTER):
        options = _eks_vpc_cni(cluster)
        found = None if options is UNKNOWN else {} if options is None else _addon_env(cluster, options)
        if found is None:
            return None
        env.update(found)
    for ds in idx.of_type(*AWS_NODE):
        if ds.get("metadata", "name") != "aws-node":
            continue
        placed = _on_kube_system(ds)
        found = None if placed is None else _container_env(ds) if placed else {}
        if found is None:
            return None
        env.update(found)
    return env


def _container_env(ds: Resource) -> dict[str, str] | None:
    env: dict[str, str] = {}
    for c in as_list(ds.get("spec", "template", "spec", "containers")):
        if isinstance(c, Mapping) and c.get("name") in ("aws-node", None):
            found = _env_values(c.get("env"))
            if found is None:
                return None
            env.update(found)
    return env
