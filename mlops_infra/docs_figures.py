"""The figures README.md and docs/ quote, generated from the code: resource and policy counts, costs, deploy time,
Regions, version pins. `python -m mlops_infra.docs --write README.md docs/*.md` writes them between markers;
tests/test_docs.py fails when one drifts.

Each generator is a function of the repository's own stacks (planned offline, once per process) and tables.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")


@cache
def planned(stack: str) -> Any:
    from .plan import plan_program

    return plan_program(ROOT, stack)


def _usd(value: float) -> str:
    return f"${value:,.0f}"


@cache
def _estimate(stack: str) -> Any:
    import argparse

    from .cli.common import read_config
    from .cost import estimate
    from .cost.model import items_from_inventory

    config = read_config(argparse.Namespace(program=ROOT, stack=stack))
    return estimate(items_from_inventory(planned(stack)), region=config.region or "us-east-1",
                    assumptions=config.budget.assumptions.to_assumptions()), config


def _rules() -> list[Any]:
    from mlops_policies.packs import all_rules

    return all_rules()


def headline() -> str:
    """One sentence of the numbers a newcomer asks first."""
    from mlops_policies.packs import PACKS

    inv = planned("prod")
    est, _ = _estimate("prod")
    unpriced = f"; {len(est.not_priced)} line(s) not priced, waived one by one" if est.not_priced else ""
    return (f"The prod stack plans **{len(inv.resources)} resources**; **{len(_rules())} policies** in "
            f"{len(PACKS)} packs judge every stack; prod's estimate is **{_usd(est.idle)}/month idle** and "
            f"{_usd(est.max)}/month with every pool at its maximum ({est.region}, prices of {est.price_date}"
            f"{unpriced}; see [docs/cost.md](docs/cost.md)).")


def cost_table() -> str:
    rows = [f"| stack (prices of {_estimate('prod')[0].price_date}) | resources | idle / month | at max / month | "
            "budget idle / max | not priced |", "|---|---:|---:|---:|---|---|"]
    for stack in STACKS:
        est, config = _estimate(stack)
        budget = config.budget
        cap = (f"{budget.idle_monthly_usd:,.0f} / {budget.max_monthly_usd:,.0f}"
               if budget.idle_monthly_usd and budget.max_monthly_usd else "none")
        missing = sorted({f"{ln.resource} ({ln.what})" for ln in est.not_priced})
        rows.append(f"| {stack} | {len(planned(stack).resources)} | {_usd(est.idle)} | {_usd(est.max)} | {cap} | "
                    f"{', '.join(missing) or 'none'} |")
    return "\n".join(rows)


def cost_top() -> str:
    est, _ = _estimate("prod")
    top = est.top(3)
    return ("Prod at max is dominated by: " + "; ".join(f"{ln.resource}, {ln.what} ({_usd(ln.max or 0)})" for ln in top)
            + f". Idle, the same pools cost {_usd(sum(ln.idle or 0 for ln in top))}: a forgotten minimum on the first "
            "is the difference, and the budget policy's test table holds that case.")


def critical_path_figure() -> str:
    from .plan.critical_path import critical_path

    path = critical_path(planned("prod"))
    chain = " → ".join(s.name for s in path.steps)
    whole = round(path.total)
    floor = f", against a floor of {round(path.floor.seconds) // 60} minutes" if path.floor else ""
    ratio = f" (ratio {path.ratio:.2f})" if path.ratio else ""
    return f"Prod: **{whole // 60}m{whole % 60:02d}s**{floor}{ratio}, on {chain}."


def policy_list() -> str:
    from mlops_policies.packs import PACKS

    rules = _rules()
    out = [f"{len(rules)} policies: " + ", ".join(
        f"{pack} {sum(1 for r in rules if r.meta.pack == pack)}" for pack in PACKS) + ".", "",
        "| policy | pack | severity | applies | what it checks |", "|---|---|---|---|---|"]
    out += [f"| `{r.meta.name}` | {r.meta.pack} | {r.meta.severity} | {r.meta.strictness} | "
            f"{r.meta.description.replace('|', '/')} |" for r in rules]
    return "\n".join(out)


def regions() -> str:
    from .cost import load_prices
    from .cost.prices import SUPPORTED_REGIONS

    table = load_prices()
    out = ["| Region | prices in the committed table |", "|---|---:|"]
    out += [f"| `{r}` | {len(table.regions.get(r, {}))} |" for r in SUPPORTED_REGIONS]
    return "\n".join(out)


def deployer_services() -> str:
    """Per IAM service, the create calls a `pulumi up` of prod makes (mlops_infra/deployer.py names them)."""
    from .deployer import CREATE_ACTIONS

    calls: dict[str, set[str]] = {}
    for r in planned("prod").resources:
        if r.custom and r.type.startswith("aws:"):
            for action in CREATE_ACTIONS.get(r.type, (f"?:{r.type}",)):
                prefix, name = action.split(":", 1)
                calls.setdefault(prefix, set()).add(name)
    return "\n".join(f"   - `{p}`: {', '.join(sorted(n))}" for p, n in sorted(calls.items()))


def supported_regions() -> str:
    from .cost.prices import SUPPORTED_REGIONS

    return ("Supported Regions: " + ", ".join(f"`{r}`" for r in SUPPORTED_REGIONS)
            + " (what the price table still lacks in each: [docs/regions.md](docs/regions.md)).")


def _pins() -> list[str]:
    """pyproject.toml's Python and SDK ranges (read as text: tomllib is 3.11+, the package supports 3.10)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    python = re.search(r'^requires-python = "([^"]+)"', text, re.M)
    pins = [f"| Python | `{python.group(1) if python else '?'}` |"]
    pins += [f"| {name} | `{spec}` |" for name, spec in re.findall(
        r'^\s*"(pulumi|pulumi-aws|pulumi-kubernetes|pulumi-random|pulumi-policy|boto3|pydantic)([<>=!~][^"]*)",', text, re.M)]
    return pins


def compatibility() -> str:
    from .config.versions import DEFAULT_EKS_VERSION, EKS_VERSION_SUPPORT

    out = ["| dependency | supported range (pyproject.toml) |", "|---|---|", *_pins(), "",
           "| EKS minor | end of standard support | end of extended support | default |", "|---|---|---|---|"]
    out += [f"| {v} | {std} | {ext} | {'yes' if v == DEFAULT_EKS_VERSION else ''} |"
            for v, (std, ext) in EKS_VERSION_SUPPORT.items()]
    lock = json.loads(resources.files("mlops_infra.charts").joinpath("lock.json").read_text(encoding="utf-8"))
    out += ["", "| Helm chart | pinned version |", "|---|---|"]
    out += [f"| {c['chart']} | {c['version']} |" for c in sorted(lock["charts"], key=lambda c: c["chart"])]
    return "\n".join(out)
