"""Entry point: `mlops-infra <command> ...`. Exit codes: 0 ok, 1 findings or failure, 2 bad input or usage."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command -> module under mlops_infra.cli; each module has `register(subparsers)` and `run(args) -> int`
# and must import nothing heavy at module level (keeps `--help` fast).
COMMANDS: dict[str, str] = {
    "plan": "plan_cmd",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlops-infra", description="Plan, check and operate an MLOps platform built with mlops-infra.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for module in COMMANDS.values():
        importlib.import_module(f"mlops_infra.cli.{module}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"mlops_infra.cli.{COMMANDS[args.command]}")
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
