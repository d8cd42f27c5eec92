"""Network invariants over any program's inventory (rendered chart objects included): NetworkPolicy ports are ports
the selected pods listen on, and every AWS service a workload's role is granted is reachable from its namespace.

The VPC CNI's policy controller (aws/amazon-network-policy-controller-k8s pkg/resolvers/endpoints.go) resolves an
egress rule to the peer pods' IPs on the rule's ports, and admits a peer Service's ClusterIP only on the Service
port whose targetPort is one of the rule's ports (`getMatchingServicePort`: the port is looked up as the Service's
targetPort, then as a container port of its pods). Ingress is judged at the destination pod after DNAT. So in both
directions a rule names the pods' container port: a rule on a Service port its pods do not listen on admits nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .core import UNKNOWN, Resource, Stack, as_list, stack_policy
from .invariants_cluster import PACK
from .invariants_index import (
    NETWORK_POLICY,
    SERVICE,
    WORKLOADS,
    Index,
    index,
    labels_match,
    meta,
    pod_spec,
)
from .pod_model import listening, others, shown
from .pod_model import pods as seen_pods

NAMESPACE = "kubernetes:core/v1:Namespace"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
VPC = "aws:ec2/vpc:Vpc"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"


@dataclass(frozen=True)
class Pods:
    """Pods of one workload: where, their labels and what they listen on."""

    what: str
    namespace: str
    labels: Mapping[str, Any]
    ports: frozenset[tuple[str, int]]
    names: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def workload_pods(idx: Index) -> list[Pods]:
    """Every workload's pods (containers and restartable init containers: native sidecars listen too)."""
    found = []
    for workload in idx.of_type(*WORKLOADS):
        spec = pod_spec(workload)
        if workload.type.endswith(":Pod"):
            labels = workload.get("metadata", "labels")
        elif workload.type.endswith(":CronJob"):
            labels = workload.get("spec", "jobTemplate", "spec", "template", "metadata", "labels")
        else:
            labels = workload.get("spec", "template", "metadata", "labels")
        ports, named = listening(spec)
        ns, name = meta(workload)
        found.append(Pods(f"{workload.type.rsplit(':', 1)[-1]} {name}", ns or "default",
                          labels if isinstance(labels, Mapping) else {}, ports, frozenset(named)))
    return [*found, *inference_service_pods(idx)]


ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
RUNTIMES = ("kubernetes:serving.kserve.io/v1alpha1:ServingRuntime",
            "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime")


def inference_service_pods(idx: Index) -> list[Pods]:
    """KServe predictor pods: labelled `component: predictor` and `serving.kserve.io/inferenceservice: <name>`
    (kserve v0.20.0 components/predictor.go), listening on the ports of the ServingRuntime the model names."""
    runtimes: dict[tuple[str, str], Resource] = {}
    for rt in idx.of_type(*RUNTIMES):
        ns, name = meta(rt)
        runtimes[(ns if rt.type.endswith(":ServingRuntime") else "*", name)] = rt
    found = []
    for isvc in idx.of_type(ISVC):
        ns, name = meta(isvc)
        runtime = isvc.get("spec", "predictor", "model", "runtime")
        runtime_res = runtimes.get((ns, str(runtime))) or runtimes.get(("*", str(runtime)))
        if runtime_res is None:
            continue
        ports = {(str(p.get("protocol") or "TCP"), p["containerPort"]) for c in as_list(runtime_res.get("spec", "containers"))
                 if isinstance(c, Mapping) for p in as_list(c.get("ports"))
                 if isinstance(p, Mapping) and isinstance(p.get("containerPort"), int)}
        found.append(Pods(f"InferenceService {name}", ns or "default",
                          {"component": "predictor", "serving.kserve.io/inferenceservice": name}, frozenset(ports)))
    return found


def namespace_labels(idx: Index, pods: Iterable[Pods]) -> dict[str, dict[str, Any]]:
    """Labels of every namespace the stack names (Namespace objects, pods' namespaces), with the name label the API
    server sets."""
    out: dict[str, dict[str, Any]] = {p.namespace: {} for p in pods}
    for ns in idx.of_type(NAMESPACE):
        name = ns.get("metadata", "name")
        if isinstance(name, str):
            labels = ns.get("metadata", "labels")
            out[name] = dict(labels) if isinstance(labels, Mapping) else {}
    return {name: {**labels, NAMESPACE_LABEL: name} for name, labels in out.items()}


def _matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A label selector against labels; an unknown selector or value may match (it is not judged as a miss)."""
    if selector is UNKNOWN:
        return True
    return labels_match(selector if isinstance(selector, Mapping) else {}, labels) is not False


def peer_pods(peer: Mapping[str, Any], policy_ns: str, pods: list[Pods],
              namespaces: Mapping[str, Mapping[str, Any]]) -> list[Pods]:
    """The pods a `to`/`from` peer selects (none for an ipBlock)."""
    if "ipBlock" in peer:
        return []
    if "namespaceSelector" in peer:
        chosen = {ns for ns, labels in namespaces.items() if _matches(peer["namespaceSelector"], labels)}
    else:
        chosen = {policy_ns}
    return [p for p in pods if p.namespace in chosen
            and ("podSelector" not in peer or _matches(peer["podSelector"], p.labels))]


BATCH = ("Job ", "CronJob ")
"""Run-to-completion workloads (`Pods.what` prefixes): their pods declaring no port are taken to serve none."""


def _port_listened(entry: Mapping[str, Any], targets: list[Pods], served: frozenset[int] = frozenset()) -> bool | None:
    """Whether some target listens on the rule entry's port (None: not judged: no port, a range, unknown). A numeric
    port is enforced as that number whatever the pod declares (aws/aws-network-policy-agent pod_utils.go
    LookupContainerPortAndName returns `port.IntVal`), so it is judged only against pods that declare ports, and a
    Service's numeric targetPort over them (`served`) counts as a port they listen on."""
    port, proto = entry.get("port"), str(entry.get("protocol") or "TCP")
    if entry.get("endPort") is not None or port is None or port is UNKNOWN:
        return None
    if isinstance(port, int):
        if any(not t.ports and not t.what.startswith(BATCH) for t in targets):
            return None  # a server that declares no port may listen on any: not judged (batch pods serve none)
        return any((proto, port) in t.ports for t in targets) or port in served  # the caller judges it only
        # against a Service port over these pods (a pod may serve a number it does not declare)
    if isinstance(port, str):
        return any((proto, port) in t.names for t in targets)
    return None


def _service_hint(idx: Index, port: Any, targets: list[Pods]) -> str:
    """`; 80 is Service x's port for pod port 8080` when the port is a Service port over these pods."""
    for svc in idx.of_type(SERVICE):
        ns, name = meta(svc)
        selector = svc.get("spec", "selector")
        if not isinstance(selector, Mapping) or not selector:
            continue
        if not any(t.namespace == (ns or "default") and labels_match({"matchLabels": selector}, t.labels)
                   for t in targets):
            continue
        for sp in as_list(svc.get("spec", "ports")):
            if isinstance(sp, Mapping) and sp.get("port") == port and sp.get("targetPort") not in (None, port):
                return f"; {port} is Service {name}'s port, its pods listen on {sp.get('targetPort')}"
    return ""


def _served(idx: Index, targets: list[Pods]) -> frozenset[int]:
    """Numeric targetPorts of the Services whose selector matches some target: ports those pods listen on."""
    found: set[int] = set()
    for svc in idx.of_type(SERVICE):
        ns = meta(svc)[0] or "default"
        selector = svc.get("spec", "selector")
        if isinstance(selector, Mapping) and selector and any(
                t.namespace == ns and labels_match({"matchLabels": selector}, t.labels) for t in targets):
            found |= {sp["targetPort"] for sp in as_list(svc.get("spec", "ports"))
                      if isinstance(sp, Mapping) and isinstance(sp.get("targetPort"), int)}
    return frozenset(found)


def _listening(targets: list[Pods]) -> str:
    ports = sorted({p for t in targets for _, p in t.ports})
    return ", ".join(map(str, ports)) or "no declared port"


def _named(targets: list[Pods]) -> str:
    names = sorted({n for t in targets for _, n in t.names})
    return ", ".join(names) or "none named"


RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
DIRECTORY_TYPE = "kubernetes:kustomize/v2:Directory"


@stack_policy(
    "mlops-inv-netpol-pod-port",
    description="Every port a NetworkPolicy rule opens towards pods the stack runs (an egress rule's peer pods, an "
                "ingress rule's selected pods; chart-rendered pods included) is a port those pods listen on. The "
                "VPC CNI policy agent matches pod ports (a Service's ClusterIP only through its targetPort), so a "
                "rule on a Service port that differs from the pod port admits nothing.",
    severity="high", pack=PACK,
    controls=("SOC2 A1.2",),
    remediation="Name the container port (the Service's targetPort) in the rule, or make the Service port equal "
                "the container port.",
)
def netpol_pod_port(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    pods = workload_pods(idx)
    namespaces = namespace_labels(idx, pods)
    # A chart release (or kustomize Directory) that was not rendered runs pods the inventory does not hold: where
    # one installs, the pods a rule reaches are not all known, and no rule towards that namespace is judged.
    parents = {r.parent for r in stack.resources if r.parent}
    # A Directory names no namespace of its own (its kustomization sets it), so an unrendered one may run pods in any.
    unseen = {str(r.get("namespace") or ("default" if r.type in RELEASE_TYPES else "*"))
              for r in idx.of_type(*RELEASE_TYPES, DIRECTORY_TYPE) if r.urn not in parents}
    for policy in idx.of_type(NETWORK_POLICY):
        ns = meta(policy)[0] or "default"
        spec = policy.get("spec")
        if not isinstance(spec, Mapping):
            continue
        selected = [p for p in pods if p.namespace == ns and _matches(spec.get("podSelector") or {}, p.labels)]
        for direction, rules_key, peers_key in (("egress", "egress", "to"), ("ingress", "ingress", "from")):
            for i, rule in enumerate(as_list(spec.get(rules_key))):
                if not isinstance(rule, Mapping):
                    continue
                if direction == "ingress":
                    targets = selected
                else:
                    peers = [p for p in as_list(rule.get(peers_key)) if isinstance(p, Mapping)]
                    targets = [t for peer in peers for t in peer_pods(peer, ns, pods, namespaces)]
                named = ", ".join(sorted({f"{t.namespace}/{t.what}" for t in targets})[:3])
                where = f"the pods it selects ({named})" if direction == "ingress" else f"its peer pods ({named})"
                if not targets or "*" in unseen or {t.namespace for t in targets} & unseen or (
                        direction == "ingress" and ns in unseen):
                    continue  # pods made at run time, outside the stack, or by an unrendered chart: not judged
                served = _served(idx, targets)
                for entry in as_list(rule.get("ports")):
                    if not isinstance(entry, Mapping) or _port_listened(entry, targets, served) is not False:
                        continue
                    port = entry.get("port")
                    hint = _service_hint(idx, port, targets)
                    if isinstance(port, int) and not hint:
                        continue  # a pod may serve a number it does not declare (core/v1: informational)
                    what = (f"listens on (they declare {_listening(targets)}){hint}; open the container port (the "
                            "Service's targetPort), not the Service port" if hint else
                            f"declares by that name (their port names: {_named(targets)}); name one of those ports "
                            "or give the number they serve")
                    yield policy, (f"{direction} rule {i} opens {entry.get('protocol') or 'TCP'} {port}, a port "
                                   f"none of {where} {what}")


def _describe_selector(selector: Any) -> str:
    if not isinstance(selector, Mapping):
        return "{}"
    return str(dict(selector.get("matchLabels") or {})) + (" with matchExpressions" if selector.get(
        "matchExpressions") else "")


def _by_labels(selector: Any) -> bool:
    """A selector by matchLabels only. Expressions (`workflows.argoproj.io/workflow Exists`) usually pick pods a
    controller makes at run time (Argo, Spark, KFP runs), which no inventory holds: not judged."""
    return isinstance(selector, Mapping) and bool(selector.get("matchLabels")) and not selector.get(
        "matchExpressions")


@stack_policy(
    "mlops-inv-netpol-peer-selects-pods",
    description="Every NetworkPolicy's podSelector, and every pod peer of its allow rules (podSelector, with or "
                "without a namespaceSelector naming namespaces of the stack), selects pods the stack runs: a rule "
                "whose peer selects nothing admits nothing, and a policy that selects no pod isolates nothing. "
                "Namespaces where unseen pods may run (unrendered charts, operators, EKS's kube-system) are not "
                "judged, nor namespaceSelectors that pick no namespace of the stack, nor selectors by expressions (pods a "
                "controller makes at run time).",
    severity="high", pack=PACK,
    controls=("SOC2 A1.2",),
    remediation="Select the peer pods' template labels (and their namespace's kubernetes.io/metadata.name).",
)
def netpol_peer_selects_pods(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    blind = seen_pods(stack).blind
    pods = workload_pods(idx)
    namespaces = namespace_labels(idx, pods)
    for policy in idx.of_type(NETWORK_POLICY):
        ns, name = meta(policy)
        ns, name = ns or "default", shown(policy, name)
        spec = policy.get("spec")
        if not isinstance(spec, Mapping):
            continue
        own = spec.get("podSelector")
        if _by_labels(own) and not blind(ns) and not any(
                p.namespace == ns and _matches(own, p.labels) for p in pods):
            yield policy, (f"NetworkPolicy {ns}/{name} podSelector {_describe_selector(own)} selects no pod in {ns}: "
                           "it isolates nothing; select the template labels of the pods it is for")
        for direction, peers_key in (("egress", "to"), ("ingress", "from")):
            for i, rule in enumerate(as_list(spec.get(direction))):
                for peer in as_list(rule.get(peers_key)) if isinstance(rule, Mapping) else []:
                    if not isinstance(peer, Mapping) or "ipBlock" in peer or not _by_labels(peer.get("podSelector")):
                        continue
                    if "namespaceSelector" in peer:
                        chosen = {n for n, labels in namespaces.items() if _matches(peer["namespaceSelector"], labels)}
                        if not chosen or not (peer["namespaceSelector"] or {}).get("matchLabels"):
                            continue  # no namespace of the stack, or every namespace: the cluster may hold more
                    else:
                        chosen = {ns}
                    if any(blind(n) for n in chosen) or peer_pods(peer, ns, pods, namespaces):
                        continue
                    there = [t.res for n in sorted(chosen) for t in seen_pods(stack).in_namespace(n)]
                    yield policy, (f"NetworkPolicy {ns}/{name} {direction} rule {i} peer podSelector "
                                   f"{_describe_selector(peer['podSelector'])} selects no pod in "
                                   f"{', '.join(sorted(chosen))}{others(there)}: the rule admits nothing; select "
                                   "the peer pods' template labels")
