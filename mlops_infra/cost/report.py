"""Render an Estimate as text or a Markdown table (JSON is `Estimate.to_json()`).

An unpriced line is never shown as a zero: a subtotal that leaves some out says how many (`$13.80 + 3 not priced`),
and one with nothing priced says only that (`2 not priced`).
"""

from __future__ import annotations

from .model import Estimate, Line


def _usd(value: float | None) -> str:
    return "not priced" if value is None else f"${value:,.2f}"


def _partial(total: float, priced: int, unpriced: int, unit: str = "") -> str:
    """A subtotal of `priced` lines that leaves out `unpriced` ones."""
    if not unpriced:
        return f"{_usd(total)}{unit}"
    if not priced:
        return f"{unpriced} not priced"
    return f"{_usd(total)}{unit} + {unpriced} not priced"


def _header(est: Estimate, title: str) -> list[str]:
    return [f"{title}: idle {_usd(est.idle)}/month, at max {_usd(est.max)}/month "
            f"({est.region}, prices of {est.price_date}; {len(est.not_priced)} line(s) not priced, so the totals "
            "are lower bounds)" if est.not_priced else
            f"{title}: idle {_usd(est.idle)}/month, at max {_usd(est.max)}/month ({est.region}, prices of "
            f"{est.price_date})"]


def _component_rows(est: Estimate) -> list[tuple[str, str, str]]:
    """(component, idle cell, at-max cell) for every component with a line: those with unpriced lines first (their
    subtotals are lower bounds, and a $0 one may be the costliest), then the rest, costliest first."""
    unpriced = est.not_priced_per_component()
    priced: dict[str, int] = {}
    for ln in est.priced:
        priced[ln.component] = priced.get(ln.component, 0) + 1
    ordered = sorted(est.per_component().items(), key=lambda kv: kv[0] not in unpriced)  # stable: costliest first
    return [(c, _partial(i, priced.get(c, 0), unpriced.get(c, 0)), _partial(m, priced.get(c, 0), unpriced.get(c, 0)))
            for c, (i, m) in ordered]


def _assumption_rows(est: Estimate, unit: str) -> list[tuple[str, float, list[Line], str]]:
    """(name, value, the lines it drives, their at-max subtotal as a cell, the amount followed by `unit`)."""
    used = est.used_assumptions()
    rows = []
    for name, value in est.assumptions.describe().items():
        driven = used.get(name, [])
        priced = [ln for ln in driven if ln.priced]
        cell = ("not priced" if driven and not priced else
                _partial(sum(ln.max or 0.0 for ln in priced), len(priced), len(driven) - len(priced), unit))
        rows.append((name, value, driven, cell))
    return rows


def text(est: Estimate, title: str) -> str:
    lines = [*_header(est, title), "", "Per component (idle / at max):"]
    lines += [f"  {i:>24} {m:>24}  {c}" for c, i, m in _component_rows(est)]
    lines += ["", "Line items (idle / at max):"]
    for ln in sorted(est.priced, key=lambda x: (x.component, x.resource, x.what)):
        tag = f"  [assumes {ln.assumption}]" if ln.assumption else ""
        lines.append(f"  {_usd(ln.idle):>14} {_usd(ln.max):>14}  {ln.resource}: {ln.what}{tag}")
    lines += ["", "Assumptions (value -> the figures they drive):"]
    for name, value, driven, cell in _assumption_rows(est, "/month"):
        lines.append(f"  {name} = {value:g}: {len(driven)} line(s), {cell}" + ("" if driven else " (unused by this stack)"))
        lines += [f"      {ln.resource}: {ln.what} = {_usd(ln.max)}" for ln in driven]
    lines += ["", "Not priced:"]
    lines += [f"  {ln.resource} ({ln.type}): {ln.what}: {ln.reason}" for ln in est.not_priced] or ["  (none)"]
    lines += ["", "Not modelled (AWS creates or bills these outside the plan; not in the totals):"]
    lines += [f"  {resource}: {what}" for resource, what in est.not_modelled] or ["  (none)"]
    return "\n".join(lines)


def markdown(est: Estimate, title: str) -> str:
    out = [f"### {_header(est, title)[0]}", "", "| Component | Idle / month | At max / month |", "|---|---:|---:|"]
    out += [f"| {c} | {i} | {m} |" for c, i, m in _component_rows(est)]
    total = f" + {len(est.not_priced)} not priced" if est.not_priced else ""
    out += [f"| **Total** | **{_usd(est.idle)}{total}** | **{_usd(est.max)}{total}** |", "",
            "| Resource | Item | Idle / month | At max / month | Assumption |", "|---|---|---:|---:|---|"]
    out += [f"| {ln.resource} | {ln.what} | {_usd(ln.idle)} | {_usd(ln.max)} | {ln.assumption or ''} |"
            for ln in sorted(est.priced, key=lambda x: (-(x.max or 0.0), x.resource))]
    out += ["", "| Assumption | Value | Lines | At max / month |", "|---|---:|---:|---:|"]
    out += [f"| {name} | {value:g} | {len(driven)} | {cell} |" for name, value, driven, cell in _assumption_rows(est, "")]
    out += ["", "| Not priced | Type | Item | Why |", "|---|---|---|---|"]
    out += [f"| {ln.resource} | {ln.type} | {ln.what} | {ln.reason} |" for ln in est.not_priced]
    out += ["", "| Not modelled (outside the plan, not in the totals) | Item |", "|---|---|"]
    out += [f"| {resource} | {what} |" for resource, what in est.not_modelled]
    return "\n".join(out)
