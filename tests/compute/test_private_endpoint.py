"""Who reaches a private API endpoint, and which Kubernetes version every managed node group runs.

- prod's private-only endpoint admits exactly what `cluster.privateEndpointAccess` names: one tcp 443 ingress rule per
  security group and CIDR, on the security group the EKS cluster's control plane uses, before the Kubernetes provider
  talks to the API; a private-only cluster with nothing admitted is a config error that names the key;
- the shipped prod placeholder for the runner's group is one `mlops-no-placeholders` reports;
- every managed node group (system nodes, GPU pools, a team workspace's pool) runs its cluster's version, from launch
  templates that name no AMI (EKS picks that version's AMI for the amiType);
- every log group has CloudWatch Logs deletion protection exactly when it is protected.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from mlops_policies.placeholders import config_placeholders

from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory, plan_program
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import PROD_GUARDS, PROGRAMS, ROOT, planned, planned_variant
from tests.nonempty import each

CLUSTER = "aws:eks/cluster:Cluster"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
PROVIDER = "pulumi:providers:kubernetes"


def prod_stack() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"])


def api_rules(inv: Inventory) -> list[Any]:
    """Ingress rules on the group the EKS cluster's control plane uses (the platform's `clusterSecurityGroupId`,
    the cluster's `vpcConfig.clusterSecurityGroupId`), derived from that cluster."""
    [cluster] = inv.of_type(CLUSTER)
    group = inv.outputs["clusterSecurityGroupId"]
    return [r for r in inv.of_type(RULE) if r.inputs["securityGroupId"] == group
            and cluster.urn in r.property_dependencies.get("securityGroupId", [])]


def https_sources(inv: Inventory) -> set[tuple[str, str]]:
    """(kind, source) of every rule that opens tcp 443 on the control plane's group."""
    out = set()
    for rule in api_rules(inv):
        if (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) != ("tcp", 443, 443):
            continue
        for key in ("referencedSecurityGroupId", "cidrIpv4", "cidrIpv6"):
            if key in rule.inputs:
                out.add((key, rule.inputs[key]))
    return out


def test_prods_private_api_admits_what_its_config_names_on_the_control_planes_group(prod_plan: Inventory) -> None:
    [cluster] = prod_plan.of_type(CLUSTER)
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is False  # private only: nothing else reaches it
    access = prod_stack()["mlops:platform"]["cluster"]["privateEndpointAccess"]
    wanted = {("referencedSecurityGroupId", sg) for sg in each(access["securityGroupIds"])}
    wanted |= {("cidrIpv4", cidr) for cidr in access.get("cidrs", [])}
    assert https_sources(prod_plan) == wanted
    # The provider that creates every Kubernetes object waits for the rules (a deployer they admit reaches the API
    # only once they exist).
    [provider] = [p for p in prod_plan.of_type(PROVIDER) if p.name == "mlops-prod-eks-k8s"]
    assert {r.urn for r in each(api_rules(prod_plan))} <= set(provider.options["dependsOn"])


def test_cidrs_of_peered_networks_get_their_own_rules_ipv4_and_ipv6() -> None:
    inv = planned_variant("prod", cluster={"privateEndpointAccess": {
        "cidrs": ["10.20.0.0/16", "2001:db8::/56"], "securityGroupIds": ["sg-0123456789abcdef0"]}})
    assert https_sources(inv) == {("cidrIpv4", "10.20.0.0/16"), ("cidrIpv6", "2001:db8::/56"),
                                  ("referencedSecurityGroupId", "sg-0123456789abcdef0")}


PROD: dict[str, Any] = {"environment": "prod", "tags": {"owner": "o", "costCenter": "c"},
                        "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
                        "securityBaseline": PROD_GUARDS}


def test_a_private_only_api_nobody_may_reach_is_refused_with_every_other_problem() -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config({**PROD, "cluster": {"serviceIpv4Cidr": "172.20.0.0/28"}})
    [private] = [p for p in info.value.problems if p.startswith("cluster.privateEndpointAccess:")]
    assert "cluster.privateEndpointAccess.securityGroupIds" in private and "cluster.privateEndpointAccess.cidrs" in private
    # Collected with the cluster's other problems, raised once.
    assert "cluster.serviceIpv4Cidr: prefix length must be between /12 and /24 (got /28)" in info.value.problems
    # Either key admits someone; a public endpoint needs neither.
    for access in ({"securityGroupIds": ["sg-0123456789abcdef0"]}, {"cidrs": ["10.20.0.0/16"]}):
        assert load_platform_config({**PROD, "cluster": {"privateEndpointAccess": access}}).cluster \
            .private_endpoint_access.configured
    public = load_platform_config({**PROD, "cluster": {"endpointPublicAccess": True,
                                                        "publicAccessCidrs": ["203.0.113.7/32"]}})
    assert not public.cluster.private_endpoint_access.configured


@pytest.mark.parametrize(("access", "expected"), [
    ({"cidrs": ["0.0.0.0/0"]}, "cluster.privateEndpointAccess.cidrs[0]: must not admit every address (0.0.0.0/0)"),
    ({"securityGroupIds": ["sg-0123456789abcdef0", "sg-0123456789abcdef0"]},
     "cluster.privateEndpointAccess.securityGroupIds[1]: duplicate 'sg-0123456789abcdef0'"),
])
def test_bad_entries_are_refused(access: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_platform_config({**PROD, "cluster": {"privateEndpointAccess": access}})
    assert expected in info.value.problems


def test_the_shipped_runner_group_is_a_placeholder_the_policy_reports() -> None:
    found = config_placeholders(prod_stack())
    [group] = each([f for f in found if f.startswith("mlops:platform.cluster.privateEndpointAccess.securityGroupIds.")])
    assert "AWS account 123456789012 is a documentation placeholder" in group


# --- node group versions -------------------------------------------------------------------------------------------


def test_every_node_group_runs_its_clusters_version_from_a_template_without_an_ami(prod_plan: Inventory) -> None:
    [cluster] = prod_plan.of_type(CLUSTER)
    templates = {t.urn: t for t in prod_plan.of_type(LAUNCH_TEMPLATE)}
    for group in each(prod_plan.of_type(NODE_GROUP)):
        assert group.inputs["version"] == cluster.inputs["version"], group.name
        # `version` is refused with a custom AMI: the template must leave the AMI to EKS (the amiType's).
        [template] = [templates[u] for u in group.property_dependencies["launchTemplate"]]
        assert "imageId" not in template.inputs and group.inputs["amiType"] != "CUSTOM"
    # The system nodes take it from the cluster itself: upgraded after the control plane.
    [system] = [g for g in prod_plan.of_type(NODE_GROUP) if g.name == "mlops-prod-eks-system"]
    assert cluster.urn in system.property_dependencies["version"]


def test_a_team_workspace_pool_runs_the_platform_clusters_version_not_the_library_default() -> None:
    platform = planned("prod")
    team = plan_program(PROGRAMS / "team_gpu", "prod",
                        stack_refs={"organization/mlops-platform/prod": {**platform.outputs, "clusterVersion": "1.34"}})
    assert [g.inputs["version"] for g in each(team.of_type(NODE_GROUP))] == ["1.34"]


# --- log groups ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_log_group_has_deletion_protection_exactly_when_it_is_protected(stack: str) -> None:
    """The control-plane and flow-log groups follow the same rule as the others (R9CORE #5): CloudWatch Logs deletion
    protection with Pulumi `protect` (prod), neither in dev."""
    groups = planned(stack).of_type("aws:cloudwatch/logGroup:LogGroup")
    names = {g.name for g in groups}
    assert {f"mlops-{stack}-eks-control-plane-logs", f"mlops-{stack}-net-flow-logs"} <= names
    for group in each(groups):
        assert group.inputs.get("deletionProtectionEnabled", False) is bool(group.options.get("protect")), group.name
    assert {bool(g.options.get("protect")) for g in groups} == {stack == "prod"}
