"""What a component exposes to pods of other namespaces: a port in its namespace (`ServicePort`).

Components list the ports they serve (`service_ports`); whoever guards egress (the exfiltration guards'
default-deny NetworkPolicies) admits exactly what the components it composes expose, never a list kept apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ServicePort:
    """A port ML pods may reach in another namespace (e.g. the Pushgateway: `monitoring`, 9091). `port` is the
    pod's port: a NetworkPolicy judges traffic after the Service has translated its port to the target port."""

    namespace: str
    port: int
