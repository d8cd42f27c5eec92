"""Reachability invariant over any program's inventory: every AWS service a workload role is granted is reachable
from the namespace its pods run in (role -> IRSA trust or Pod Identity association -> ServiceAccount -> namespace ->
egress NetworkPolicies -> VPC endpoints or NAT).

A NetworkPolicy names addresses, not services: a gateway service (S3, DynamoDB) is reached through its prefix list's
CIDRs (the gateway endpoint routes them), an interface endpoint through the VPC CIDR where its ENIs listen, and any
other public address only through NAT and an ipBlock that admits the internet.
Family `service-reach` (#30): NAT via a used table's default route, gateway endpoints with route tables, interface
endpoints with subnets, egress of the policies selecting the pods (DNS too). Not judged: security groups, unknown CIDRs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .core import NotApplicable, Resource, Stack, as_list, dig, json_doc, stack_policy, statements
from .egress_rules import Rule, parse_rule
from .invariants_cluster import PACK
from .invariants_index import NETWORK_POLICY, POD_IDENTITY, WORKLOADS, Index, index, labels_match, meta, pod_spec
from .invariants_reach_actions import services_called
from .invariants_reach_routes import ENDPOINT_SUBNETS, ROUTE_TABLE, nat_routed, subnet_nets
from .invariants_workloads import trusted_subjects

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
VPC = "aws:ec2/vpc:Vpc"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"


ENDPOINT_NAMES = {"sagemaker": ("sagemaker.api", "sagemaker.runtime", "sagemaker.featurestore-runtime"),
                  "ecr": ("ecr.api", "ecr.dkr"), "cloudwatch": ("monitoring",), "aps": ("aps-workspaces",),
                  "kinesis": ("kinesis-streams",), "firehose": ("kinesis-firehose",),
                  "bedrock": ("bedrock-runtime", "bedrock")}
"""IAM service prefix -> the VPC endpoint services that serve it (default: the prefix itself)."""
GATEWAY_SERVICES = ("s3", "dynamodb")
PREFIX_LISTS: dict[str, list[str]] = {}
"""No default: a gateway service's CIDRs come from `prefixLists` when set, else from its gateway endpoint's
`cidrBlocks` output (aws_vpc_endpoint `cidr_blocks`: the prefix list's CIDRs, known once the endpoint exists); a
service whose CIDRs are unknown is not judged on them (never a placeholder: a real preview admits AWS's real list)."""
POD_IDENTITY_AGENT = ("169.254.170.23", 80)
HTTPS = 443
REACH_CONFIG: dict[str, dict[str, Any]] = {
    "prefixLists": {"type": "object", "default": PREFIX_LISTS,
                    "description": "Gateway-endpoint prefix lists by name (com.amazonaws.<region>.<service>) -> "
                                   "their CIDRs: the addresses an egress rule must admit for S3 and DynamoDB. "
                                   "Default: each gateway endpoint's `cidrBlocks` output; unknown: not judged."},
}


def role_documents(idx: Index, role: Resource) -> Iterator[dict[str, Any]]:
    """The role's inline RolePolicies and the managed Policies attached to it."""
    for rp in idx.of_type("aws:iam/rolePolicy:RolePolicy"):
        if role.urn in rp.property_dependencies.get("role", ()):
            doc = json_doc(rp.get("policy"), "role policy")
            if doc:
                yield doc
    for att in idx.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if role.urn not in att.property_dependencies.get("role", ()):
            continue
        for urn in att.property_dependencies.get("policyArn", ()):
            policy = idx.get(urn)
            doc = json_doc(policy.get("policy"), "policy") if policy is not None else None
            if doc:
                yield doc


def granted_services(idx: Index, role: Resource) -> set[str]:
    """Services whose endpoints the role's pods call (invariants_reach_actions: not permission-only actions, not
    KMS used on the caller's behalf)."""
    return services_called(st for doc in role_documents(idx, role) for st in statements(doc)
                           if st.get("Effect") == "Allow")


SECRET_STORES = ("kubernetes:external-secrets.io/v1:SecretStore", "kubernetes:external-secrets.io/v1:ClusterSecretStore",
                 "kubernetes:external-secrets.io/v1beta1:SecretStore",
                 "kubernetes:external-secrets.io/v1beta1:ClusterSecretStore")


def operator_accounts(idx: Index) -> dict[str, str | None]:
    """`ns/name` of ServiceAccounts whose tokens External Secrets requests for a store (`auth.jwt
    .serviceAccountRef`) -> the operator's namespace, where the AWS calls are made (None when not in the stack)."""
    releases = idx.releases("external-secrets")
    operator = str(releases[0].get("namespace") or "default") if releases else None
    found: dict[str, str | None] = {}
    for store in idx.of_type(*SECRET_STORES):
        ref = store.get("spec", "provider", "aws", "auth", "jwt", "serviceAccountRef")
        if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
            ns = ref.get("namespace") or meta(store)[0] or "default"
            found[f"{ns}/{ref['name']}"] = operator
    return found


def workload_accounts(idx: Index, role: Resource) -> tuple[list[tuple[str, str | None]], bool]:
    """((namespace, ServiceAccount) whose pods use the role, whether through IRSA) from its trust and Pod Identity
    associations; a ServiceAccount a secret store names is used from the External Secrets operator's namespace
    (by the operator's pods: ServiceAccount None)."""
    try:
        subjects = trusted_subjects(role)
    except NotApplicable:
        subjects = []
    operator = operator_accounts(idx)
    used: set[tuple[str, str | None]] = set()
    for s in subjects:
        ns, _, name = s.partition("/")
        if s in operator:
            if operator[s] is not None:
                used.add((str(operator[s]), None))
        elif "*" not in ns:
            used.add((ns, name if "*" not in name else None))
    irsa = sorted(used, key=str)
    pod_identity = sorted({(str(a.get("namespace")), str(a.get("serviceAccount"))) for a in idx.of_type(POD_IDENTITY)
                           if role.urn in a.property_dependencies.get("roleArn", ())
                           and isinstance(a.get("namespace"), str)}, key=str)
    return [*irsa, *pod_identity], bool(irsa)


def pod_labels(idx: Index, ns: str, account: str | None) -> list[Mapping[str, Any]]:
    """Pod template labels of the workloads in `ns` that run as `account` (none known: [])."""
    if account is None:
        return []
    found = []
    for workload in idx.of_type(*WORKLOADS):
        if meta(workload)[0] != ns or (pod_spec(workload).get("serviceAccountName") or "default") != account:
            continue
        template = workload.get("spec", "jobTemplate", "spec", "template") if workload.type.endswith(":CronJob") \
            else workload.props if workload.type.endswith(":Pod") else workload.get("spec", "template")
        labels = dig(template, "metadata", "labels")
        found.append(labels if isinstance(labels, Mapping) else {})
    return found


def selecting_policies(idx: Index, ns: str, account: str | None) -> list[tuple[Resource, Mapping[str, Any]]]:
    """(policy, spec) of the egress NetworkPolicies of `ns` that select the pods running as `account`. Pods known from
    the stack's workloads: every policy whose podSelector selects all of them; otherwise only namespace-wide policies
    (podSelector {}), which select any pod."""
    labels = pod_labels(idx, ns, account)
    found = []
    for policy in idx.of_type(NETWORK_POLICY):
        spec = policy.get("spec")
        if meta(policy)[0] != ns or not isinstance(spec, Mapping):
            continue
        selector = spec.get("podSelector") or {}
        if selector != {} and not (labels and all(labels_match(selector, pod) for pod in labels)):
            continue
        if "Egress" in as_list(spec.get("policyTypes")) or "egress" in spec:
            found.append((policy, spec))
    return found


def pod_egress(idx: Index, ns: str, account: str | None) -> tuple[list[Rule] | None, list[str]]:
    """(the egress rules the pods of `ns` running as `account` get, or None when no policy isolates them for egress;
    the names of the policies that do)."""
    policies = selecting_policies(idx, ns, account)
    rules = [r for _, spec in policies for r in (parse_rule(x) for x in as_list(spec.get("egress"))
                                                 if isinstance(x, Mapping)) if r]
    return (rules if policies else None), [p.name for p, _ in policies]


def admits_dns(idx: Index, ns: str, account: str | None) -> bool:
    """Some egress rule of the selecting policies admits port 53 (any protocol, any peer: the peer is the cluster's
    DNS, which this rule does not model), or the pods are not isolated for egress."""
    policies = selecting_policies(idx, ns, account)
    for _, spec in policies:
        for rule in as_list(spec.get("egress")):
            ports = as_list(rule.get("ports")) if isinstance(rule, Mapping) else []
            if isinstance(rule, Mapping) and not ports:
                return True
            for entry in ports:
                port = entry.get("port") if isinstance(entry, Mapping) else None
                end = entry.get("endPort") if isinstance(entry, Mapping) else None
                if port is None or port == 53 or (isinstance(port, str) and "dns" in port) or (
                        isinstance(port, int) and isinstance(end, int) and port <= 53 <= end):
                    return True
    return not policies


@dataclass(frozen=True)
class Paths:
    """What leaves the VPC, and how: its CIDRs, the region, endpoint services by type, and whether NAT exists."""

    vpc: tuple[Network, ...]
    region: str
    gateways: frozenset[str]
    interfaces: frozenset[str]
    """Interface endpoints with private DNS (the SDK's default hostname resolves to them)."""
    nat: bool
    prefix_lists: Mapping[str, Any]
    endpoint_nets: Mapping[str, tuple[Network, ...]] = field(default_factory=dict)
    """Interface endpoint service -> its subnets' CIDRs, where its ENIs listen (when the stack creates them)."""


ENDPOINT_TABLES = "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation"


def _attached(idx: Index, ep: Resource, prop: str, association: str, owned: bool) -> bool:
    """The endpoint has route tables (gateway) or subnets (interface): its own `prop`, an association resource,
    or - when the stack creates none of them (`owned` False) - taken as attached (not judged)."""
    if ep.get(prop) or ep.property_dependencies.get(prop):
        return True
    if any(ep.urn in a.property_dependencies.get("vpcEndpointId", ()) for a in idx.of_type(association)):
        return True
    return not owned


def network_paths(idx: Index, config: Mapping[str, Any]) -> Paths:
    # long: one pass over the endpoints, classifying each by type, routing and region; split it and the reader
    # follows three partial passes over the same list
    nets = tuple(ipaddress.ip_network(c) for c in (v.get("cidrBlock") for v in idx.of_type(VPC)) if isinstance(c, str))
    if not nets:
        raise NotApplicable("the stack creates no VPC: its endpoints and NAT are not known here")
    gateways, interfaces, regions = set(), set(), set()
    gateway_cidrs: dict[str, list[str]] = {}
    endpoint_nets: dict[str, tuple[Network, ...]] = {}
    tables_owned = bool(idx.of_type(ROUTE_TABLE))
    subnets_owned = bool(idx.of_type("aws:ec2/subnet:Subnet"))
    for ep in idx.of_type(VPC_ENDPOINT):
        name = ep.get("serviceName")
        if not isinstance(name, str) or not name.startswith("com.amazonaws."):
            continue
        region, _, service = name.removeprefix("com.amazonaws.").partition(".")
        regions.add(region)
        if (ep.get("vpcEndpointType") or "Gateway") == "Gateway":
            if not _attached(idx, ep, "routeTableIds", ENDPOINT_TABLES, tables_owned):
                continue  # a gateway endpoint no route table names routes nothing
            gateways.add(service)
            cidrs = ep.get("cidrBlocks")
            if isinstance(cidrs, list) and cidrs and all(isinstance(c, str) for c in cidrs):
                gateway_cidrs[name] = cidrs
        elif ep.get("privateDnsEnabled") is True and _attached(idx, ep, "subnetIds", ENDPOINT_SUBNETS, subnets_owned):
            interfaces.add(service)
            endpoint_nets[service] = subnet_nets(idx, ep)
    if len(regions) > 1:
        raise NotApplicable("the VPC's region is not known from its endpoints")
    region = regions.pop() if regions else str(next((v.provider_props or {} for v in idx.of_type(VPC)), {}).get(
        "region") or "")
    lists = config.get("prefixLists")
    return Paths(nets, region, frozenset(gateways), frozenset(interfaces), nat_routed(idx),
                 {**gateway_cidrs, **(lists if isinstance(lists, Mapping) else {})}, endpoint_nets)


def unreachable(service: str, egress: list[Rule] | None, paths: Paths) -> str | None:
    """Why pods behind `egress` (None: not isolated) cannot reach `service`, or None when they can (or it cannot be
    judged here)."""
    if service in GATEWAY_SERVICES:
        if service not in paths.gateways and not paths.nat:
            return "the VPC has neither its gateway endpoint nor NAT"
        cidrs = paths.prefix_lists.get(f"com.amazonaws.{paths.region}.{service}")
        if egress is None:
            return None
        if not isinstance(cidrs, list) or not all(isinstance(c, str) for c in cidrs):
            # The prefix list's CIDRs are unknown here, but they are AWS public addresses (a gateway endpoint keeps
            # the service's public IPs; so does NAT): egress that admits HTTPS only to private-use ranges misses them.
            if any(r.may_reach_public(HTTPS) for r in egress):
                return None
            return (f"egress admits HTTPS to no public address, and {service} is reached at its public addresses "
                    f"(prefix list com.amazonaws.{paths.region}.{service}, through its gateway endpoint or NAT)")
        missing = [c for c in cidrs if not any(r.covers(ipaddress.ip_network(c), HTTPS) for r in egress)]
        return f"egress admits no HTTPS to its prefix list ({', '.join(missing)})" if missing else None
    names = ENDPOINT_NAMES.get(service, (service,))
    endpoint = any(n in paths.interfaces for n in names)
    if egress is None:
        return None if endpoint or paths.nat else "the VPC has neither its interface endpoint nor NAT"
    if endpoint:  # private DNS: the service's name resolves to the endpoint's addresses, so NAT is not used
        subnets = [n for name in names for n in paths.endpoint_nets.get(name, ())]
        if (subnets and all(any(r.covers(net, HTTPS) for r in egress) for net in subnets)) or any(
                r.covers(net, HTTPS) for net in paths.vpc for r in egress):
            return None
        return "egress admits no HTTPS to the VPC CIDR, where its interface endpoint listens" + (
            f" (its subnets {', '.join(map(str, subnets))})" if subnets else "")
    if paths.nat and any(r.admits_internet(HTTPS) for r in egress):
        return None
    return (f"the VPC has no {names[0]} interface endpoint, and egress admits no HTTPS to the internet "
            "(a NetworkPolicy cannot name the service's public addresses)")


@stack_policy(
    "mlops-inv-aws-service-reachable",
    description="Every AWS service a workload role is granted (IRSA trust or Pod Identity association -> "
                "ServiceAccount -> namespace) is reachable from that namespace: its egress NetworkPolicies admit "
                "HTTPS to the service's VPC endpoint (interface endpoints in the VPC CIDR, gateway endpoints' prefix "
                "lists) or, through NAT, to the internet; IRSA needs STS the same way, Pod Identity its agent. "
                "Otherwise every call times out.",
    severity="high", pack=PACK,
    controls=("SOC2 A1.2",),
    remediation="Create the VPC endpoint the service needs (gateway for S3 and DynamoDB, interface with private DNS "
                "for the others) and admit it in the namespace's egress (the prefix list's CIDRs, or the VPC CIDR on "
                "443), or stop granting the service.",
    config=REACH_CONFIG,
)
def aws_service_reachable(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    paths = network_paths(idx, config)
    agent = ipaddress.ip_network(f"{POD_IDENTITY_AGENT[0]}/32")
    for role in idx.of_type("aws:iam/role:Role"):
        accounts, irsa = workload_accounts(idx, role)
        if not accounts:
            continue
        try:
            services = granted_services(idx, role) | ({"sts"} if irsa else set())
        except NotApplicable:
            continue
        for ns, account in accounts:
            egress, policies = pod_egress(idx, ns, account)
            who = f"role {role.name} for ServiceAccount {ns}/{account}" if account else f"ServiceAccounts in {ns}"
            named = f"egress of NetworkPolicy {', '.join(sorted(policies))}" if policies else "egress"
            if services and not admits_dns(idx, ns, account):
                yield role, (f"{', '.join(sorted(services))} (granted to {who}) are unreachable from {ns}: {named} "
                             "admits no DNS (port 53), so no AWS endpoint name resolves")
            for service in sorted(services):
                reason = unreachable(service, egress, paths)
                if reason:
                    yield role, (f"{service} (granted to {who}) is unreachable from {ns}: "
                                 f"{reason.replace('egress', named, 1)}")
            if not irsa and not paths.nat and "eks-auth" not in paths.interfaces:
                yield role, (f"Pod Identity credentials are unavailable to {ns}: the node's agent calls "
                             "eks-auth:AssumeRoleForPodIdentity, and the VPC has neither its eks-auth interface "
                             "endpoint nor NAT")
            if not irsa and egress is not None and not any(r.covers(agent, POD_IDENTITY_AGENT[1]) for r in egress):
                yield role, (f"Pod Identity credentials are unreachable from {ns}: {named} does not admit the agent "
                             f"({agent} TCP {POD_IDENTITY_AGENT[1]})")
