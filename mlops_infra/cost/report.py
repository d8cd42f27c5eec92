"""Render an Estimate as text or a Markdown table (JSON is `Estimate.to_json()`)."""

from __future__ import annotations

from .model import Estimate, Line


def _usd(value: float | None) -> str:
    return "not priced" if value is None else f"${value:,.2f}"


def _header(est: Estimate, title: str) -> list[str]:
    return [f"{title}: idle {_usd(est.idle)}/month, at max {_usd(est.max)}/month "
            f"({est.region}, prices of {est.price_date}; {len(est.not_priced)} line(s) not priced, so the totals "
            "are lower bounds)" if est.not_priced else
            f"{title}: idle {_usd(est.idle)}/month, at max {_usd(est.max)}/month ({est.region}, prices of "
            f"{est.price_date})"]


def _assumption_rows(est: Estimate) -> list[tuple[str, float, list[Line]]]:
    used = est.used_assumptions()
    return [(name, value, used.get(name, [])) for name, value in est.assumptions.describe().items()]


def text(est: Estimate, title: str) -> str:
    lines = [*_header(est, title), "", "Per component (idle / at max):"]
    lines += [f"  {_usd(i):>14} {_usd(m):>14}  {c}" for c, (i, m) in est.per_component().items()]
    lines += ["", "Line items (idle / at max):"]
    for ln in sorted(est.priced, key=lambda x: (x.component, x.resource, x.what)):
        tag = f"  [assumes {ln.assumption}]" if ln.assumption else ""
        lines.append(f"  {_usd(ln.idle):>14} {_usd(ln.max):>14}  {ln.resource}: {ln.what}{tag}")
    lines += ["", "Assumptions (value -> the figures they drive):"]
    for name, value, driven in _assumption_rows(est):
        total = sum(ln.max or 0.0 for ln in driven if ln.priced)
        lines.append(f"  {name} = {value:g}: {len(driven)} line(s), {_usd(total)}/month"
                     + ("" if driven else " (unused by this stack)"))
        lines += [f"      {ln.resource}: {ln.what} = {_usd(ln.max)}" for ln in driven]
    lines += ["", "Not priced:"]
    lines += [f"  {ln.resource} ({ln.type}): {ln.what}: {ln.reason}" for ln in est.not_priced] or ["  (none)"]
    lines += ["", "Not modelled (AWS creates or bills these outside the plan; not in the totals):"]
    lines += [f"  {resource}: {what}" for resource, what in est.not_modelled] or ["  (none)"]
    return "\n".join(lines)


def markdown(est: Estimate, title: str) -> str:
    out = [f"### {_header(est, title)[0]}", "", "| Component | Idle / month | At max / month |", "|---|---:|---:|"]
    out += [f"| {c} | {_usd(i)} | {_usd(m)} |" for c, (i, m) in est.per_component().items()]
    out += [f"| **Total** | **{_usd(est.idle)}** | **{_usd(est.max)}** |", "",
            "| Resource | Item | Idle / month | At max / month | Assumption |", "|---|---|---:|---:|---|"]
    out += [f"| {ln.resource} | {ln.what} | {_usd(ln.idle)} | {_usd(ln.max)} | {ln.assumption or ''} |"
            for ln in sorted(est.priced, key=lambda x: (-(x.max or 0.0), x.resource))]
    out += ["", "| Assumption | Value | Lines | At max / month |", "|---|---:|---:|---:|"]
    out += [f"| {name} | {value:g} | {len(driven)} | {_usd(sum(ln.max or 0.0 for ln in driven if ln.priced))} |"
            for name, value, driven in _assumption_rows(est)]
    out += ["", "| Not priced | Type | Item | Why |", "|---|---|---|---|"]
    out += [f"| {ln.resource} | {ln.type} | {ln.what} | {ln.reason} |" for ln in est.not_priced]
    out += ["", "| Not modelled (outside the plan, not in the totals) | Item |", "|---|---|"]
    out += [f"| {resource} | {what} |" for resource, what in est.not_modelled]
    return "\n".join(out)
