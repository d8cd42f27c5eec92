"""`mlops-infra policy-pack`: where the installed policy packs are, for `pulumi preview --policy-pack`.

The packs ship inside the package (`mlops_infra/policy_packs/<pack>`: PulumiPolicy.yaml, __main__.py,
requirements.txt), so an install from the wheel has them too:

    pulumi preview --policy-pack "$(mlops-infra policy-pack path mlops-security)" --policy-pack-config prod.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import fail

PACKS_DIR = Path(__file__).resolve().parent.parent / "policy_packs"
NAMES = ("mlops-security", "mlops-compliance", "mlops-cost", "mlops-invariants")
"""mlops_policies.packs.PACKS, without importing pulumi-policy to print a path (tests hold the two together)."""


def register(sub: Any) -> None:
    p = sub.add_parser("policy-pack", help="print the directory of an installed policy pack (for --policy-pack)",
                       description="Print the directory of a policy pack shipped with mlops-infra, to pass to "
                                   "`pulumi preview --policy-pack`. The pack runs under the Python on PATH: activate "
                                   "the virtualenv where mlops-infra is installed.")
    action = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    path = action.add_parser("path", help="the pack's directory")
    path.add_argument("name", choices=NAMES, metavar="NAME", help=f"one of {', '.join(NAMES)}")
    action.add_parser("list", help="every pack with its directory")


def run(args: argparse.Namespace) -> int:
    names = [args.name] if args.action == "path" else list(NAMES)
    for name in names:
        folder = PACKS_DIR / name
        if not (folder / "PulumiPolicy.yaml").is_file():
            return fail(f"policy-pack: {folder} has no PulumiPolicy.yaml (a broken install?)")
        print(folder if args.action == "path" else f"{name}\t{folder}")
    return 0
