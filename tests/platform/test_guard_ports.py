"""The teams' egress guards admit what the components serve them, assembled from what each component exposes
(`service_ports`), not from a list kept beside the config: every port a component's ingress NetworkPolicy opens to a
team namespace is a port the team's `allow-platform-egress` policy lets its pods open (else the two policies
together drop the connection: a team could not call LakeFS, Qdrant or a served model)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import planned

NAME = "kubernetes.io/metadata.name"


def _policies(stack: str) -> list[dict[str, Any]]:
    return [r.inputs for r in planned(stack).of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if not r.options.get("rendered")]


def _names(peer: dict[str, Any]) -> set[str]:
    """Namespaces a peer selects by name (matchLabels or an `In` expression on the name label)."""
    selector = peer.get("namespaceSelector") or {}
    names = {selector.get("matchLabels", {}).get(NAME)} - {None}
    for e in selector.get("matchExpressions", []):
        if e["key"] == NAME and e["operator"] == "In":
            names |= set(e["values"])
    return names  # type: ignore[return-value]


def _served_to(stack: str, team: str) -> set[tuple[str, int]]:
    """(namespace, port) each component's ingress policy opens to `team`, outside the team's own namespace."""
    out = set()
    for p in _policies(stack):
        ns = p["metadata"]["namespace"]
        for rule in p["spec"].get("ingress", []):
            if ns != team and any(team in _names(peer) for peer in rule.get("from", [])):
                out |= {(ns, port["port"]) for port in rule.get("ports", [])}
    return out


def _admits(egress: list[dict[str, Any]], ns: str, port: int) -> bool:
    for rule in egress:
        ports = {p["port"] for p in rule.get("ports", [])}
        if any(ns in _names(peer) for peer in rule.get("to", [])) and (not ports or port in ports):
            return True
    return False


@pytest.mark.parametrize("stack", ["prod"])  # the stack with exfiltration guards
def test_every_port_a_component_serves_a_team_passes_the_teams_egress_guard(stack: str) -> None:
    guards = [p for p in _policies(stack) if p["metadata"]["name"] == "allow-platform-egress"]
    assert guards, "the stack guards its team namespaces"
    for guard in guards:
        team = guard["metadata"]["namespace"]
        served = _served_to(stack, team)
        assert {ns for ns, _ in served} >= {"lakefs", "qdrant", "serving"}
        refused = sorted(sp for sp in served if not _admits(guard["spec"]["egress"], *sp))
        assert refused == [], f"{team}: served but refused by its egress guard"


@pytest.mark.parametrize("stack", ["prod"])
def test_each_single_port_the_guard_admits_is_a_port_something_serves_or_the_pushgateway(stack: str) -> None:
    """The reverse: no stale entry (a port of a component that is not built) widens the guard."""
    policies = _policies(stack)
    [guard, *_] = [p for p in policies if p["metadata"]["name"] == "allow-platform-egress"]
    team = guard["metadata"]["namespace"]
    single = {(ns, port["port"]) for rule in guard["spec"]["egress"] if rule.get("ports")
              for peer in rule.get("to", []) for ns in _names(peer) for port in rule["ports"]} - {
        ("kube-system", 53)}
    assert single, "the guard admits single ports"
    host, port = urlsplit(planned(stack).outputs["pushgatewayUrl"]).netloc.split(":")
    pushgateway = {(host.split(".")[1], int(port))}  # <service>.<namespace>.svc:<port>; its pod listens on it
    assert single - pushgateway <= _served_to(stack, team)
