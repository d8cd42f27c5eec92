"""Egress NetworkPolicy rules as address sets (ipBlock CIDRs and TCP ports), for the service-reach family."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core import as_list

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
NON_PUBLIC = tuple(ipaddress.ip_network(c) for c in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8", "fc00::/7",
    "fe80::/10"))
"""Private-use, shared (CGNAT), link-local and loopback ranges (IANA special-purpose registries): no AWS public
service address lies in them."""


@dataclass(frozen=True)
class Rule:
    cidrs: tuple[Network, ...] | None
    """None: any destination (a rule without `to`)."""
    ports: tuple[tuple[int, int], ...] | None
    """TCP (from, to) ranges; None: every port."""
    excepts: tuple[tuple[Network, ...], ...] = ()
    """Per entry of `cidrs`, its ipBlock's `except` ranges (empty when none)."""
    unknown: bool = False
    """Some ipBlock's cidr is not known here (an output at preview): it may be any address."""

    def may_reach_public(self, port: int) -> bool:
        """Some public address on `port` may be admitted: a destination outside the private-use ranges (or unknown)."""
        return self.admits_port(port) and (self.cidrs is None or self.unknown or any(
            not any(c.version == p.version and c.subnet_of(p) for p in NON_PUBLIC) for c in self.cidrs))  # type: ignore[arg-type]

    def admits_port(self, port: int) -> bool:
        return self.ports is None or any(lo <= port <= hi for lo, hi in self.ports)

    def covers(self, net: Network, port: int) -> bool:
        """Every address of `net` on `port` (an `except` range overlapping `net` leaves part of it out)."""
        return self.admits_port(port) and (self.cidrs is None or any(
            net.version == c.version and net.subnet_of(c)  # type: ignore[arg-type]
            and not any(net.overlaps(e) for e in self._except(i)) for i, c in enumerate(self.cidrs)))

    def admits_internet(self, port: int) -> bool:
        """Every public address on `port`: 0.0.0.0/0 whose `except` names only non-public ranges (the metadata
        address, RFC 1918), as a guard that keeps pods off 169.254.169.254 does."""
        return self.admits_port(port) and (self.cidrs is None or any(
            c.version == 4 and c.prefixlen == 0 and not any(e.is_global for e in self._except(i))
            for i, c in enumerate(self.cidrs)))

    def _except(self, i: int) -> tuple[Network, ...]:
        return self.excepts[i] if i < len(self.excepts) else ()


def parse_rule(rule: Mapping[str, Any]) -> Rule | None:
    """An egress rule's ipBlock destinations and TCP ports (None when it names no ipBlock or is unknown). A rule whose
    `to` is missing or empty matches all destinations (networking/v1 NetworkPolicyEgressRule.to)."""
    peers = rule.get("to")
    cidrs: tuple[Network, ...] | None = None
    excepts: list[tuple[Network, ...]] = []
    unknown = False
    if peers is not None and as_list(peers):
        nets = []
        for peer in as_list(peers):
            block = peer.get("ipBlock") if isinstance(peer, Mapping) else None
            if isinstance(block, Mapping) and isinstance(block.get("cidr"), str):
                try:
                    net = ipaddress.ip_network(block["cidr"])
                    out = tuple(ipaddress.ip_network(e) for e in as_list(block.get("except")) if isinstance(e, str))
                except ValueError:
                    unknown = True
                    continue
                nets.append(net)
                excepts.append(out)
            elif isinstance(block, Mapping):
                unknown = True
        if not nets and not unknown:
            return None
        cidrs = tuple(nets)
    ports: list[tuple[int, int]] = []
    for entry in as_list(rule.get("ports")):
        if isinstance(entry, Mapping) and str(entry.get("protocol") or "TCP") == "TCP":
            port = entry.get("port")
            if port is None:
                return Rule(cidrs, None, tuple(excepts), unknown)
            if isinstance(port, int):
                end = entry.get("endPort")
                ports.append((port, end if isinstance(end, int) else port))
    return Rule(cidrs, tuple(ports) if rule.get("ports") else None, tuple(excepts), unknown)
