"""`mlops-infra graph`: a Mermaid diagram of a planned stack, or with `--critical-path` its estimated deploy time."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_program_args, dump_json, fail, plan_from_args, run_guarded


def register(sub: Any) -> None:
    p = sub.add_parser("graph", help="Mermaid diagram of a planned stack, or its deploy-time critical path",
                       description="Plan a program offline and print a Mermaid flowchart of its components and "
                                   "key resources, with their dependencies. With --critical-path, print instead the "
                                   "longest chain of creates of a first `pulumi up`, with a typical time per step "
                                   "from a committed table (mlops_infra/plan/create_times.json).")
    add_program_args(p)
    p.add_argument("--critical-path", action="store_true",
                   help="print the estimated deploy time and its critical path instead of the diagram")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="output format of --critical-path (default: text)")


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        inventory = plan_from_args(args)
        if not args.critical_path:
            from ..plan.graph import mermaid

            print(mermaid(inventory))
            return 0
        from ..plan.critical_path import critical_path, render_text, to_json

        try:
            path = critical_path(inventory)
        except ValueError as exc:
            return fail(str(exc), 1)
        if args.format == "json":
            dump_json(to_json(path, args.stack))
        else:
            print(render_text(path, args.stack))
        return 0

    return run_guarded(body)
