"""`check`'s refusal of a policy config under which the two estimate policies (mlops-cost-unpriced,
mlops-cost-budget) would price different estimates, or price with assumptions out of the stack's ranges."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .cost import BUDGET_POLICY, ESTIMATE_INPUTS, ESTIMATE_POLICIES, UNPRICED_POLICY


def estimate_inputs_problem(policy_config: Mapping[str, Any]) -> str | None:
    """Why a policy config file would make the two estimate policies price different estimates, or None.

    `check` refuses such a file, so its two reports agree, and assumptions out of the stack's ranges. The pack path
    needs no refusal: the budget prices its own estimate and reports each unpriced line as "budget unknown"; its
    own out-of-range assumptions fail the policy there."""
    from mlops_infra.cost import Assumptions
    entries = {name: policy_config.get(name) for name in ESTIMATE_POLICIES}
    for name, entry in entries.items():
        try:
            Assumptions.from_mapping(entry.get("assumptions") if isinstance(entry, Mapping) else None)
        except ValueError as exc:
            return f"{name}: {exc}"
    for key in ESTIMATE_INPUTS:
        values = {name: entry.get(key) if isinstance(entry, Mapping) else None for name, entry in entries.items()}
        if len({json.dumps(v, sort_keys=True) for v in values.values()}) > 1:
            shown = "; ".join(f"{name}: {json.dumps(v) if v is not None else 'unset'}" for name, v in values.items())
            return (f"{UNPRICED_POLICY} and {BUDGET_POLICY} price one estimate: set `{key}` the same in both entries, "
                    f"or in neither ({shown})")
    return None
