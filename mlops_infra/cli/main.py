"""Entry point: `mlops-infra <command> ...`. Exit codes: 0 ok, 1 findings or failure, 2 bad input or usage."""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

# Every `mlops_infra/cli/<command>_cmd.py` is a subcommand: it has `register(subparsers)` and `run(args) -> int`
# and imports nothing heavy at module level (keeps `--help` fast). Order: the workflow, then the rest by name.
_FIRST = ("plan", "check", "graph")


def _order(module: str) -> tuple[int, str]:
    command = module.removesuffix("_cmd").replace("_", "-")
    return (_FIRST.index(command) if command in _FIRST else len(_FIRST), command)


COMMANDS: dict[str, str] = {
    m.removesuffix("_cmd").replace("_", "-"): m  # policy_pack_cmd.py: `mlops-infra policy-pack`
    for m in sorted((info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)])
                     if info.name.endswith("_cmd")), key=_order)
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The `mlops-infra` argument parser: one subcommand per operation, each importing its heavy dependencies only
    when it runs."""
    from mlops_infra import __version__

    parser = _Parser(prog="mlops-infra", description="Plan, check and operate an MLOps platform built with mlops-infra.")
    parser.add_argument("--version", action="version", version=f"mlops-infra {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for module in COMMANDS.values():
        importlib.import_module(f"mlops_infra.cli.{module}").register(sub)
    return parser


def _freeze_heap_at_exit() -> None:
    """Interpreter shutdown collects garbage over the whole heap a plan leaves (SDK classes, Outputs): ~1.4 s of
    `plan --stack prod` (benchmarks/bench.py, measured against os._exit). Nothing there needs a finalizer to run
    (the standard streams are flushed by the interpreter all the same) and the OS takes the memory back, so the heap
    is frozen first. Runs at exit only: an in-process caller (tests) keeps its normal collector until then."""
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    atexit.unregister(_freeze_heap_at_exit)
    atexit.register(_freeze_heap_at_exit)
    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"mlops_infra.cli.{COMMANDS[args.command]}")
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mlops-infra plan ... | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
