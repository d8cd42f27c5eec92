"""Routes and subnets behind the service-reach family (invariants_reach.py): whether a default route leads to NAT,
and where an interface endpoint's ENIs listen."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from .core import Resource, as_list
from .invariants_index import Index

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
ENDPOINT_SUBNETS = "aws:ec2/vpcEndpointSubnetAssociation:VpcEndpointSubnetAssociation"


def nat_routed(idx: Index) -> bool:
    """A way out to the internet: a default route (0.0.0.0/0) of a table the subnets use leads to a NAT gateway; to
    a Transit Gateway (centralised egress: what lies beyond is not known here, so not judged); or to an internet
    gateway from subnets that give instances public IPs (mapPublicIpOnLaunch: the VPC CNI SNATs pod traffic to the
    node's address, EKS user guide "Pod networking" / AWS_VPC_K8S_CNI_EXTERNALSNAT false). Routes made outside the
    stack (the stack has none): a NAT is taken as routed (not judged)."""
    nats = {n.urn for n in idx.of_type(NAT_GATEWAY)}
    igws = {g.urn for g in idx.of_type(INTERNET_GATEWAY)}
    routes, tables = idx.of_type(ROUTE), idx.of_type(ROUTE_TABLE)
    if not routes and not any(t.get("routes") for t in tables):
        return bool(nats)
    associations = idx.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation",
                               "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation")
    used = {u for a in associations for u in a.property_dependencies.get("routeTableId", ())}
    public = {u for a in associations if any((sub := idx.get(s)) is not None and sub.get("mapPublicIpOnLaunch") is True
                                             for s in a.property_dependencies.get("subnetId", ()))
              for u in a.property_dependencies.get("routeTableId", ())}

    def out(entry: Mapping[str, object], nat_deps: set[str], igw_deps: set[str], table_urns: set[str]) -> bool:
        if associations and not used & table_urns:
            return False  # a table no subnet uses routes nothing (when any is associated)
        gateway = entry.get("gatewayId")
        to_igw = bool(gateway) and (bool(igws & igw_deps) or (isinstance(gateway, str) and gateway.startswith("igw-")))
        return bool(nats & nat_deps or entry.get("natGatewayId") or entry.get("transitGatewayId")
                    or (to_igw and public & table_urns))

    for route in routes:
        deps = route.property_dependencies
        if route.get("destinationCidrBlock") == "0.0.0.0/0" and out(
                route.props, set(deps.get("natGatewayId", ())), set(deps.get("gatewayId", ())),
                set(deps.get("routeTableId", ()))):
            return True
    return any(isinstance(e, Mapping) and e.get("cidrBlock") == "0.0.0.0/0"
               and out(e, set(), set(t.property_dependencies.get("routes", ())), {t.urn})
               for t in tables for e in as_list(t.get("routes")))


def subnet_nets(idx: Index, ep: Resource) -> tuple[Network, ...]:
    """CIDRs of the subnets an interface endpoint is placed in (subnetIds or association resources; () unknown)."""
    urns = {*ep.property_dependencies.get("subnetIds", ()), *(u for a in idx.of_type(ENDPOINT_SUBNETS) if ep.urn in
                                                            a.property_dependencies.get("vpcEndpointId", ())
                                                            for u in a.property_dependencies.get("subnetId", ()))}
    cidrs = [sub.get("cidrBlock") for u in urns if (sub := idx.get(u)) is not None]
    return tuple(sorted((ipaddress.ip_network(c) for c in cidrs if isinstance(c, str)), key=str)) if all(
        isinstance(c, str) for c in cidrs) else ()
