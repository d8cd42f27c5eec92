"""`mlops-infra plan`: run a program on the built-in mock engine and print its inventory."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_program_args, plan_from_args, run_guarded


def register(sub: Any) -> None:
    p = sub.add_parser("plan", help="offline plan on the mock engine (no cloud credentials)",
                       description="Plan a Pulumi Python program offline and print its resource inventory.")
    add_program_args(p)
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        inventory = plan_from_args(args)
        print(inventory.dumps() if args.format == "json" else inventory.summary())
        return 0

    return run_guarded(body)
