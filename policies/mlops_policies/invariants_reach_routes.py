"""Routes and subnets behind the service-reach family (invariants_reach.py): whether a default route leads to NAT,
and where an interface endpoint's ENIs listen."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from .core import Resource, as_list
from .invariants_index import Index

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ENDPOINT_SUBNETS = "aws:ec2/vpcEndpointSubnetAssociation:VpcEndpointSubnetAssociation"


def nat_routed(idx: Index) -> bool:
    """A NAT gateway exists and a default route (0.0.0.0/0) leads to it; routes made outside the stack (the stack
    has none): the NAT is taken as routed (not judged)."""
    nats = {n.urn for n in idx.of_type(NAT_GATEWAY)}
    routes, tables = idx.of_type(ROUTE), idx.of_type(ROUTE_TABLE)
    if not nats or (not routes and not any(t.get("routes") for t in tables)):
        return bool(nats)
    associations = idx.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation",
                               "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation")
    used = {u for a in associations for u in a.property_dependencies.get("routeTableId", ())}

    def serves(table_urns: Iterable[str]) -> bool:  # a table no subnet uses routes nothing (when any is associated)
        return not associations or bool(used & set(table_urns))

    for route in routes:
        via = nats & set(route.property_dependencies.get("natGatewayId", ())) or isinstance(
            route.get("natGatewayId"), str)
        if via and route.get("destinationCidrBlock") == "0.0.0.0/0" and serves(
                route.property_dependencies.get("routeTableId", ())):
            return True
    return any(isinstance(e, Mapping) and e.get("natGatewayId") and e.get("cidrBlock") == "0.0.0.0/0"
               and serves([t.urn]) for t in tables for e in as_list(t.get("routes")))


def subnet_nets(idx: Index, ep: Resource) -> tuple[Network, ...]:
    """CIDRs of the subnets an interface endpoint is placed in (subnetIds or association resources; () unknown)."""
    urns = {*ep.property_dependencies.get("subnetIds", ()), *(u for a in idx.of_type(ENDPOINT_SUBNETS) if ep.urn in
                                                            a.property_dependencies.get("vpcEndpointId", ())
                                                            for u in a.property_dependencies.get("subnetId", ()))}
    cidrs = [sub.get("cidrBlock") for u in urns if (sub := idx.get(u)) is not None]
    return tuple(ipaddress.ip_network(c) for c in cidrs if isinstance(c, str)) if all(
        isinstance(c, str) for c in cidrs) else ()
