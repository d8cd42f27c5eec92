"""What the estimator reads (Item) and what it produces (Line, Estimate). Plain data; no Pulumi."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .assumptions import Assumptions

# The tag on a CloudTrail trail that says which copy of its account's management events it records, in each Region:
# `first` (free) or `additional` (billed per event). CloudTrail bills every copy after the first, and which copy a
# trail is depends on the other trails of its account, which a plan cannot see: so the trail states it
# (AuditTrail, from `securityBaseline.trailManagementCopy`) and the estimate reads it, never guesses.
MANAGEMENT_COPY_TAG = "mlops:management-events-copy"
MANAGEMENT_COPIES = ("first", "additional")


@dataclass(frozen=True)
class Item:
    """One planned resource: type token, logical name, camelCase inputs, the engine's id, its component's name."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    id: str | None = None
    component: str = "(stack)"
    urn: str = ""
    deps: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Property dependencies: input name -> URNs it came from (joins a node group to its launch template)."""


@dataclass(frozen=True)
class Line:
    """One priced (or not priced) figure. `idle`/`max` are USD per month; None means not priced (`reason`)."""

    component: str
    resource: str
    type: str
    what: str
    idle: float | None
    max: float | None
    assumption: str | None = None
    reason: str = ""

    @property
    def priced(self) -> bool:
        return self.idle is not None and self.max is not None

    def to_json(self) -> dict[str, Any]:
        return {"component": self.component, "resource": self.resource, "type": self.type, "what": self.what,
                "idleMonthlyUsd": _round(self.idle), "maxMonthlyUsd": _round(self.max),
                "assumption": self.assumption, "notPricedReason": self.reason or None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class Estimate:
    region: str
    price_date: str
    assumptions: Assumptions
    lines: list[Line] = field(default_factory=list)
    not_modelled: list[tuple[str, str]] = field(default_factory=list)
    """(resource, what): costs the resource makes AWS create outside the plan, not in the totals (never silent)."""

    @property
    def priced(self) -> list[Line]:
        return [ln for ln in self.lines if ln.priced]

    @property
    def not_priced(self) -> list[Line]:
        return [ln for ln in self.lines if not ln.priced]

    @property
    def idle(self) -> float:
        return sum(ln.idle or 0.0 for ln in self.priced)

    @property
    def max(self) -> float:
        return sum(ln.max or 0.0 for ln in self.priced)

    def per_component(self) -> dict[str, tuple[float, float]]:
        """Component -> its priced subtotal (idle, at max), every component with a line, costliest first; a
        component whose lines are all unpriced is 0.0 here, and `not_priced_per_component` says so."""
        totals: dict[str, tuple[float, float]] = {ln.component: (0.0, 0.0) for ln in self.lines}
        for ln in self.priced:
            idle, top = totals[ln.component]
            totals[ln.component] = (idle + (ln.idle or 0.0), top + (ln.max or 0.0))
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1][1], kv[0])))

    def not_priced_per_component(self) -> dict[str, int]:
        """Component -> how many of its lines are not priced (components with none are absent)."""
        counts: dict[str, int] = {}
        for ln in self.not_priced:
            counts[ln.component] = counts.get(ln.component, 0) + 1
        return counts

    def per_resource(self) -> dict[tuple[str, str], tuple[float, float]]:
        totals: dict[tuple[str, str], tuple[float, float]] = {}
        for ln in self.priced:
            key = (ln.resource, ln.type)
            idle, top = totals.get(key, (0.0, 0.0))
            totals[key] = (idle + (ln.idle or 0.0), top + (ln.max or 0.0))
        return totals

    def top(self, n: int = 5, column: str = "max") -> list[Line]:
        key = (lambda ln: ln.max or 0.0) if column == "max" else (lambda ln: ln.idle or 0.0)
        return sorted(self.priced, key=key, reverse=True)[:n]

    def used_assumptions(self) -> dict[str, list[Line]]:
        used: dict[str, list[Line]] = {}
        for ln in self.lines:
            if ln.assumption:
                used.setdefault(ln.assumption, []).append(ln)
        return used

    def to_json(self) -> dict[str, Any]:
        values = self.assumptions.describe()
        used = self.used_assumptions()
        unpriced = self.not_priced_per_component()
        return {
            "region": self.region, "priceDate": self.price_date, "currency": "USD",
            "totals": {"idleMonthlyUsd": round(self.idle, 2), "maxMonthlyUsd": round(self.max, 2),
                       "notPriced": len(self.not_priced)},
            "components": [{"component": c, "idleMonthlyUsd": round(i, 2), "maxMonthlyUsd": round(m, 2),
                            "notPriced": unpriced.get(c, 0)} for c, (i, m) in self.per_component().items()],
            "lines": [ln.to_json() for ln in self.lines],
            "assumptions": [{"name": k, "value": v,
                             "drives": [{"resource": ln.resource, "what": ln.what, "idleMonthlyUsd": _round(ln.idle),
                                         "maxMonthlyUsd": _round(ln.max)} for ln in used.get(k, [])]}
                            for k, v in values.items()],
            "notPriced": [ln.to_json() for ln in self.not_priced],
            "notModelled": [{"resource": r, "what": w} for r, w in self.not_modelled],
        }


def items_from_inventory(inventory: Any) -> list[Item]:
    """Items of a plan Inventory (duck-typed: `.resources`, `.by_urn()`); component = nearest component ancestor."""
    index = inventory.by_urn()
    out: list[Item] = []
    for r in inventory.resources:
        if not r.custom:
            continue
        parent = index.get(r.parent) if r.parent else None
        while parent is not None and parent.custom:
            parent = index.get(parent.parent) if parent.parent else None
        out.append(Item(r.type, r.name, r.inputs, r.id, parent.name if parent is not None else "(stack)", r.urn,
                        r.property_dependencies))
    return out


def items_from_records(records: Iterable[Mapping[str, Any]]) -> list[Item]:
    """Items of an inventory's JSON records (what `plan --format json` prints)."""
    return [Item(str(r["type"]), str(r["name"]), r.get("inputs") or {}, r.get("id"), "(stack)", str(r.get("urn", "")),
                 r.get("propertyDependencies") or {}) for r in records if r.get("custom", True)]
