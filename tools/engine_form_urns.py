"""Rewrite an old plan inventory's URNs (the SDK mock's form) into the engine's form, using its parent links.

Before issue 26 the plan engine recorded the SDK mock's URNs: a child's qualified type was its parent's *last*
type + `$` + its own (and a top-level resource carried `pulumi:pulumi:Stack$`). The engine qualifies a child with
its parent's *whole* qualified type chain and never with the root stack's type (mlops_infra/plan/urns.py). An old
inventory records every resource's parent, so each URN can be rebuilt exactly as the engine would have built it.

This is how tests/data/urns-<stack>-released.txt were carried over: the release they record (commit f30aa41) was
planned with its own code, which reproduces the old snapshot line for line, and its inventory rewritten here:

    git archive f30aa41 | tar -x -C /tmp/release && cd /tmp/release
    PYTHONPATH=. python -c "import sys; from mlops_infra.cli.main import main; sys.exit(main())" \\
        plan --stack prod --format json > /tmp/release-prod.json
    python tools/engine_form_urns.py /tmp/release-prod.json > tests/data/urns-prod-released.txt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlops_infra.plan.urns import engine_urn


def engine_form(resources: list[dict[str, Any]], stack: str, project: str) -> dict[str, str]:
    """Old URN -> the engine's URN for every resource of an old inventory."""
    by_urn = {r["urn"]: r for r in resources}
    done: dict[str, str] = {}

    def of(urn: str) -> str:
        if urn not in done:
            record = by_urn[urn]
            parent = of(record["parent"]) if record.get("parent") in by_urn else ""
            done[urn] = engine_urn(stack, project, parent, record["type"], record["name"])
        return done[urn]

    for urn in by_urn:
        of(urn)
    return done


def main(argv: list[str]) -> int:
    inventory = json.loads(Path(argv[1]).read_text())
    mapping = engine_form(inventory["resources"], inventory["stack"], inventory["project"])
    if len(set(mapping.values())) != len(mapping):
        raise SystemExit("two old URNs map to one engine URN")
    print("\n".join(sorted(mapping.values())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
