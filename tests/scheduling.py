"""A small kube-scheduler predicate for tests: would a pod spec be placed on a node with these labels and taints?

It follows the Kubernetes docs ("Assigning Pods to Nodes", "Taints and Tolerations") for what a DaemonSet's pod
template can say: every `nodeSelector` entry must equal the node's label; `requiredDuringScheduling...` node
affinity needs one `nodeSelectorTerms` entry whose `matchExpressions` all hold (In, NotIn, Exists, DoesNotExist,
Gt, Lt; a missing label satisfies NotIn and DoesNotExist; an empty term matches nothing); each NoSchedule/NoExecute taint needs a toleration
(operator Exists: key empty or equal; Equal, the default: key and value equal; effect empty or equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# EKS managed node groups spell taint effects in the API's style.
EKS_EFFECT = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str


def node_taints(node_group_taints: Sequence[Mapping[str, Any]] | None) -> list[Taint]:
    """An EKS node group's `taints` as the node carries them."""
    return [Taint(t["key"], t.get("value", ""), EKS_EFFECT[t["effect"]]) for t in node_group_taints or []]


def _expression_holds(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr["key"], expr["operator"], [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        return key in labels and (int(labels[key]) > int(values[0]) if op == "Gt" else int(labels[key]) < int(values[0]))
    raise NotImplementedError(op)


def _tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.effect:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.key
    return toleration.get("key") == taint.key and str(toleration.get("value", "")) == taint.value


def schedulable(spec: Mapping[str, Any], labels: Mapping[str, str], taints: Sequence[Taint]) -> bool:
    """True when the scheduler may place a pod with `spec` on the node."""
    if any(labels.get(k) != str(v) for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is not None:
        terms = required.get("nodeSelectorTerms") or []
        if any("matchFields" in t for t in terms):
            raise NotImplementedError("matchFields")
        # An empty term matches no node.
        if not any(t.get("matchExpressions") and all(_expression_holds(e, labels) for e in t["matchExpressions"])
                   for t in terms):
            return False
    tolerations = spec.get("tolerations") or []
    return all(any(_tolerates(t, taint) for t in tolerations) for taint in taints
               if taint.effect in ("NoSchedule", "NoExecute"))
