"""The estimated deploy time of a first `pulumi up`: the longest chain of creates through the plan's dependencies.

What a resource waits for is what the Pulumi engine waits for, as recorded by the mock monitor: its
`dependencies` (explicit `dependsOn` plus every property dependency, component dependencies already expanded to the
component's custom children by the SDK) and its provider. It does not wait for its parent: a ComponentResource
registers at once and takes no time, and its children only wait for what they depend on.

Durations come from `create_times.json` (a committed table, one source and one assumption per entry). A type without
an entry gets the table's default, and the report lists it as an assumption.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from graphlib import CycleError, TopologicalSorter
from importlib import resources
from typing import Any

from .inventory import Inventory, ResourceRecord

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


@dataclass(frozen=True)
class Estimate:
    seconds: float
    basis: str
    """Which table entry gave the figure, e.g. `aws:eks/cluster:Cluster` or `helm chart kube-prometheus-stack`."""
    source: str
    assumption: str
    default: bool = False


@dataclass(frozen=True)
class Step:
    urn: str
    name: str
    type: str
    start: float
    finish: float
    estimate: Estimate

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "urn": self.urn, "start": self.start, "seconds":
                self.estimate.seconds, "finish": self.finish, "basis": self.estimate.basis,
                "assumption": self.estimate.assumption, "source": self.estimate.source}


@dataclass(frozen=True)
class Floor:
    """The unavoidable chain of a Kubernetes platform: the cluster, one node group, the slowest chart."""

    seconds: float
    parts: list[tuple[str, Estimate]]


@dataclass
class CriticalPath:
    steps: list[Step]
    floor: Floor | None
    defaulted: dict[str, Estimate] = field(default_factory=dict)
    """Types that had no entry, with the default used for each."""

    @property
    def total(self) -> float:
        return self.steps[-1].finish if self.steps else 0.0

    @property
    def ratio(self) -> float | None:
        return self.total / self.floor.seconds if self.floor and self.floor.seconds else None


class CreateTimes:
    """The committed table: exact types, then type prefixes, then the default; Helm releases by chart."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    @classmethod
    def load(cls) -> CreateTimes:
        return cls(_packaged_table())

    def _entry(self, entry: dict[str, Any], basis: str, default: bool = False) -> Estimate:
        return Estimate(float(entry["seconds"]), basis, entry["source"], entry["assumption"], default)

    def estimate(self, record: ResourceRecord) -> Estimate:
        if not record.custom:
            return Estimate(0.0, "component", "a ComponentResource registers without a cloud call", "0 s")
        if record.options.get("read"):
            return Estimate(1.0, "read", "a `get` reads an existing resource", "1 s")
        if record.type == HELM_RELEASE:
            return self._helm(record)
        entry = self.table["types"].get(record.type)
        if entry is not None:
            return self._variant(record, entry)
        for prefix, entry in self.table["prefixes"].items():
            if record.type.startswith(prefix):
                return self._entry(entry, f"{prefix}*")
        return self._entry(self.table["default"], "default", default=True)

    def _variant(self, record: ResourceRecord, entry: dict[str, Any]) -> Estimate:
        for variant in entry.get("variants", []):
            if record.inputs.get(variant["input"]) == variant["equals"]:
                return Estimate(float(variant["seconds"]), f"{record.type} {variant['input']}={variant['equals']}",
                                entry["source"], variant["assumption"])
        return self._entry(entry, record.type)

    def _helm(self, record: ResourceRecord) -> Estimate:
        charts = self.table["helmCharts"]
        if record.inputs.get("skipAwait") is True:
            return self._entry(charts["_skipAwait"], "helm skipAwait")
        chart = str(record.inputs.get("chart", "")).rstrip("/").rsplit("/", 1)[-1]
        if chart in charts:
            return self._entry(charts[chart], f"helm chart {chart}")
        return self._entry(charts["_release"], "helm release")


@cache
def _packaged_table() -> dict[str, Any]:
    text = resources.files("mlops_infra.plan").joinpath("create_times.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def waits_on(record: ResourceRecord, index: dict[str, ResourceRecord]) -> set[str]:
    """What the engine waits for before creating `record`: its dependencies and its provider (never its parent).

    A dependency on a component (a remote component, or an inventory written by hand) means all its descendants.
    """
    direct = set(record.dependencies)
    provider = record.options.get("provider")
    if provider:
        direct.add(provider)
    out: set[str] = set()
    for urn in direct:
        dep = index.get(urn)
        if dep is None:  # a default provider or something outside the plan: already there
            continue
        out |= {urn} if dep.custom else _descendants(urn, index)
    out.discard(record.urn)
    return out


def _descendants(urn: str, index: dict[str, ResourceRecord]) -> set[str]:
    children: dict[str, list[str]] = {}
    for r in index.values():
        if r.parent:
            children.setdefault(r.parent, []).append(r.urn)
    found: set[str] = set()
    stack = list(children.get(urn, []))
    while stack:
        child = stack.pop()
        if child not in found:
            found.add(child)
            stack.extend(children.get(child, []))
    return found


def critical_path(inventory: Inventory, times: CreateTimes | None = None) -> CriticalPath:
    """The longest chain of creates (earliest finish of every resource, then the chain to the latest one).

    Ties break on the URN, so the result is deterministic. Raises ValueError on a dependency cycle."""
    times = times or CreateTimes.load()
    # The objects a Helm release renders are not Pulumi resources: the release creates them, and its own estimate
    # covers them (a kustomize Directory's objects are resources, each with its own await, and stay).
    index = {urn: r for urn, r in inventory.by_urn().items()
             if not str((r.options.get("rendered") or {}).get("by", "")).startswith("helm:")}
    graph = {urn: waits_on(r, index) for urn, r in index.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ValueError(f"dependency cycle: {' -> '.join(exc.args[1])}") from None
    estimates = {urn: times.estimate(index[urn]) for urn in order}
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for urn in order:
        before = max(graph[urn], key=lambda d: (finish[d], d), default=None)
        via[urn] = before
        finish[urn] = (finish[before] if before else 0.0) + estimates[urn].seconds
    steps: list[Step] = []
    last = max(finish, key=lambda u: (finish[u], u), default=None)
    while last is not None:
        est = estimates[last]
        steps.append(Step(last, index[last].name, index[last].type, finish[last] - est.seconds, finish[last], est))
        last = via[last]
    steps.reverse()
    defaulted = {index[u].type: e for u, e in estimates.items() if e.default}
    return CriticalPath(steps, _floor(inventory, times), defaulted)


def _floor(inventory: Inventory, times: CreateTimes) -> Floor | None:
    """Cluster + the fastest node group + the slowest Helm release; None without a cluster, nodes or charts."""
    picks: list[tuple[str, Estimate]] = []
    for typ, choose in ((CLUSTER, max), (NODE_GROUP, min), (HELM_RELEASE, max)):
        candidates = [(r.name, times.estimate(r)) for r in inventory.of_type(typ)]
        if not candidates:
            return None
        picks.append(choose(candidates, key=lambda c: (c[1].seconds, c[0])))
    return Floor(sum(e.seconds for _, e in picks), picks)


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s"


def render_text(path: CriticalPath, stack: str) -> str:
    lines = [f"Critical path of a first `pulumi up` for {stack}: {_minutes(path.total)} ({path.total:.0f} s)", ""]
    lines.append(f"  {'start':>7}  {'takes':>7}  {'finish':>7}  resource")
    for s in path.steps:
        lines.append(f"  {_minutes(s.start):>7}  {_minutes(s.estimate.seconds):>7}  {_minutes(s.finish):>7}  "
                     f"{s.name} ({s.type})  [{s.estimate.assumption}]")
    lines.append("")
    if path.floor is not None:
        parts = " + ".join(f"{name} {_minutes(e.seconds)}" for name, e in path.floor.parts)
        lines.append(f"Floor (cluster + one node group + the slowest chart): {_minutes(path.floor.seconds)} = {parts}")
        lines.append(f"Path / floor = {path.ratio:.2f} (target <= 1.10)")
    else:
        lines.append("Floor: not computed (the plan has no EKS cluster, node group or Helm release)")
    lines.append("")
    lines.append("Sources of the times on the path (create_times.json):")
    for basis, source in sorted({(s.estimate.basis, s.estimate.source) for s in path.steps}):
        lines.append(f"  {basis}: {source}")
    if path.defaulted:
        lines.append("")
        lines.append("Assumed (no entry in the table):")
        lines += [f"  {t}: {e.assumption}" for t, e in sorted(path.defaulted.items())]
    return "\n".join(lines)


def to_json(path: CriticalPath, stack: str) -> dict[str, Any]:
    floor = None if path.floor is None else {
        "seconds": path.floor.seconds,
        "parts": [{"name": n, "seconds": e.seconds, "basis": e.basis} for n, e in path.floor.parts]}
    return {"stack": stack, "totalSeconds": path.total, "floor": floor, "ratio": path.ratio,
            "steps": [s.to_json() for s in path.steps],
            "assumedTypes": {t: e.assumption for t, e in sorted(path.defaulted.items())}}
