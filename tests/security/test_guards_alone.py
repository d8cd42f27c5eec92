"""ExfiltrationGuards composes alone (issue 29): it takes its cluster as `ClusterRefs` and binds every NetworkPolicy
through `cluster.bind`, so under a parent with no provider (a stack of its own, examples/exfiltration_guards) its
policies still go to the referenced cluster; the VPC's S3 gateway endpoint comes from the platform's contract."""

from __future__ import annotations

import ipaddress

from mlops_infra.plan import Inventory
from tests.conftest import EXAMPLES, planned
from tests.platform.test_standalone import standalone

GUARDS = "mlops:security:ExfiltrationGuards"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def alone() -> Inventory:
    return standalone(EXAMPLES / "exfiltration_guards")


def test_the_guards_alone_bind_their_policies_to_the_referenced_clusters_provider() -> None:
    inv = alone()
    (guards,) = inv.of_type(GUARDS)
    assert guards.parent is None or guards.parent.split("::")[-2].endswith("pulumi:pulumi:Stack")  # no provider above
    (provider,) = inv.of_type("pulumi:providers:kubernetes")
    policies = [r for r in inv.of_type(POLICY) if r.parent == guards.urn]
    assert len(policies) == 2  # default-deny and the allowlist, in the team's namespace
    assert {r.options.get("provider") for r in policies} == {provider.urn}
    assert {r.inputs["metadata"]["namespace"] for r in policies} == {"search"}


def test_the_guards_alone_read_the_clusters_service_cidr_and_write_no_shared_endpoint_policy() -> None:
    inv, platform = alone(), planned("dev").outputs
    assert platform["vpcS3GatewayEndpointId"].startswith("vpce-")
    assert inv.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy") == []  # the platform's endpoint is shared
    assert '"Statement"' in inv.outputs["s3EndpointPolicy"]
    (allow,) = [r for r in inv.of_type(POLICY) if r.inputs["metadata"]["name"] == "allow-platform-egress"]
    api_ip = f"{ipaddress.ip_network(platform['serviceIpv4Cidr'])[1]}/32"
    cidrs = [peer["ipBlock"]["cidr"] for rule in allow.inputs["spec"]["egress"] for peer in rule.get("to", [])
             if "ipBlock" in peer]
    assert api_ip in cidrs


def test_the_platforms_guards_stay_where_they_were_and_bind_to_its_cluster() -> None:
    inv = planned("prod")
    (guards,) = inv.of_type(GUARDS)
    (baseline,) = inv.of_type("mlops:security:SecurityBaseline")
    assert guards.parent == baseline.urn
    (cluster_provider,) = [r for r in inv.of_type("pulumi:providers:kubernetes")
                           if any(p.options.get("provider") == r.urn for p in inv.of_type(POLICY)
                                  if p.parent == guards.urn)]
    policies = [r for r in inv.of_type(POLICY) if r.parent == guards.urn]
    assert policies and {r.options.get("provider") for r in policies} == {cluster_provider.urn}
