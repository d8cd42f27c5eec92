"""A tiny Kubernetes NetworkPolicy evaluator for tests: may one pod open a connection to a destination?

It follows the networking.k8s.io/v1 semantics (Kubernetes docs, "Network Policies"; API reference
NetworkPolicySpec) for what manifests in a plan can say:
- a pod is isolated for egress (ingress) when some policy in its namespace selects it and lists `Egress`
  (`Ingress`) in `policyTypes`. `policyTypes` defaults to `Ingress`, plus `Egress` when `egress` is present;
- an isolated pod may connect only where at least one rule of one selecting policy allows it: policies are
  additive, rules are an OR, and within a rule the peer (`to`/`from`) AND the port must match;
- a rule without `to`/`from` matches every peer; a rule without `ports` matches every port;
- a peer with only `podSelector` means pods of the policy's own namespace; only `namespaceSelector` means all pods
  of the matching namespaces; both means the matching pods in the matching namespaces; `ipBlock` matches
  addresses in `cidr` and not in any `except` (it is meant for addresses outside the cluster, so it is only
  tried against `Ip` destinations here);
- ports match on protocol (default TCP) and number, up to `endPort` when given; named ports are not supported;
- a connection between two pods needs the source's egress AND the destination's ingress to allow it.
Label selectors support `matchLabels` and `matchExpressions` (In, NotIn, Exists, DoesNotExist); an empty selector
selects everything. Namespaces carry `kubernetes.io/metadata.name` as the API server sets it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops_infra.plan import Inventory

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ip:
    address: str


@dataclass(frozen=True)
class Policy:
    namespace: str
    spec: Mapping[str, Any]


def policies_in(inv: Inventory) -> list[Policy]:
    """Every NetworkPolicy in a planned inventory (camelCase, as the API receives it)."""
    return [Policy(r.inputs["metadata"]["namespace"], r.inputs["spec"]) for r in inv.of_type(NETWORK_POLICY)]


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {"In": key in labels and labels[key] in values,
              "NotIn": key not in labels or labels[key] not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


def _ns_labels(namespace: str, namespace_labels: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    return {**namespace_labels.get(namespace, {}), NAMESPACE_LABEL: namespace}


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, dest: Pod | Ip,
                  namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    if "ipBlock" in peer:
        if not isinstance(dest, Ip):
            return False
        addr = ipaddress.ip_address(dest.address)
        block = peer["ipBlock"]
        return addr in ipaddress.ip_network(block["cidr"]) and not any(
            addr in ipaddress.ip_network(e) for e in block.get("except") or [])
    if not isinstance(dest, Pod):
        return False
    if "namespaceSelector" in peer:
        ns_ok = selects(peer["namespaceSelector"], _ns_labels(dest.namespace, namespace_labels))
    else:
        ns_ok = dest.namespace == policy_ns
    pod_ok = selects(peer["podSelector"], dest.labels) if "podSelector" in peer else True
    return ns_ok and pod_ok


def _port_matches(ports: Sequence[Mapping[str, Any]] | None, protocol: str, port: int) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        if "port" not in entry:
            return True
        if not isinstance(entry["port"], int):
            raise NotImplementedError(f"named port {entry['port']!r}")
        if entry["port"] <= port <= entry.get("endPort", entry["port"]):
            return True
    return False


def _types(spec: Mapping[str, Any]) -> list[str]:
    return list(spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"]))


def _allowed(direction: str, policies: Iterable[Policy], subject: Pod, peer: Pod | Ip, protocol: str, port: int,
             namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    selecting = [p for p in policies if p.namespace == subject.namespace
                 and selects(p.spec.get("podSelector", {}), subject.labels) and direction in _types(p.spec)]
    if not selecting:
        return True  # not isolated in this direction
    for policy in selecting:
        for rule in policy.spec.get(rules_key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(p, policy.namespace, peer, namespace_labels) for p in peers)
            if peer_ok and _port_matches(rule.get("ports"), protocol, port):
                return True
    return False


def allows(policies: Sequence[Policy], source: Pod, dest: Pod | Ip, port: int, protocol: str = "TCP",
           namespace_labels: Mapping[str, Mapping[str, str]] | None = None) -> bool:
    """True when `source` may open `protocol`/`port` to `dest` (both ends' policies, when `dest` is a pod)."""
    labels = namespace_labels or {}
    if not _allowed("Egress", policies, source, dest, protocol, port, labels):
        return False
    if isinstance(dest, Pod):
        return _allowed("Ingress", policies, dest, source, protocol, port, labels)
    return True
