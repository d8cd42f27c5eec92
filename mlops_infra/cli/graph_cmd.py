"""`mlops-infra graph`: a Mermaid diagram of a planned stack (components, key resources, dependencies)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_program_args, plan_from_args, run_guarded


def register(sub: Any) -> None:
    p = sub.add_parser("graph", help="Mermaid diagram of a planned stack",
                       description="Plan a program offline and print a Mermaid flowchart of its components and "
                                   "key resources, with their dependencies.")
    add_program_args(p)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        from ..plan.graph import mermaid

        print(mermaid(plan_from_args(args)))
        return 0

    return run_guarded(body)
