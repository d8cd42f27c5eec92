"""Helpers shared by the subcommands: where the project is, how stack references are fed, error output."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..plan import Inventory
    from ..platform.config import PlatformConfig


def fail(message: str, code: int = 2) -> int:
    """Print one line (no traceback) and return the exit code."""
    print(f"mlops-infra: error: {message}", file=sys.stderr)
    return code


def project_root(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` (default: cwd) holding a Pulumi.yaml; else `start`."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").exists():
            return candidate
    return here


def add_program_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", "-s", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--program", type=Path, default=None,
                        help="program directory (default: the project found at or above the current directory)")
    parser.add_argument("--stack-refs", type=Path, default=None, metavar="FILE",
                        help="JSON/YAML mapping of stack name -> outputs for StackReferences "
                             "(an inventory from `plan --format json` is accepted too)")
    parser.add_argument("--no-render", dest="render", action="store_false",
                        help="do not render Helm releases and kustomize bases (the inventory then holds only what "
                             "the program registers; `check` cannot judge what charts install)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress lines on stderr (they are printed only when stderr is a terminal)")


def progress(args: argparse.Namespace, message: str) -> None:
    """One progress line on stderr, for steps that take seconds: only on a terminal, and never with --quiet (so
    pipes, CI logs and JSON consumers see nothing of it)."""
    if not getattr(args, "quiet", False) and sys.stderr.isatty():
        print(f"mlops-infra: {message}", file=sys.stderr, flush=True)


def _local_projects(root: Path) -> dict[str, Path]:
    """Pulumi projects in this repository: the root one and any under stacks/*/."""
    import yaml

    found: dict[str, Path] = {}
    for path in [root / "Pulumi.yaml", *sorted(root.glob("stacks/*/Pulumi.yaml"))]:
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(data, dict) and "name" in data:
                found[str(data["name"])] = path.parent
    return found


def local_ref_resolver(root: Path) -> Callable[[str], Mapping[str, Any] | None]:
    """Resolve `org/project/stack` by planning that project's stack when it lives in this repository."""
    from ..plan import plan_program

    projects = _local_projects(root)

    def resolve(name: str) -> Mapping[str, Any] | None:
        parts = name.split("/")
        if len(parts) < 2 or parts[-2] not in projects:
            return None
        return plan_program(projects[parts[-2]], parts[-1], resolve_ref=resolve).outputs

    return resolve


def load_stack_refs(path: Path | None) -> dict[str, Mapping[str, Any]]:
    if path is None:
        return {}
    import yaml

    from ..plan import PlanInputError

    if not path.is_file():
        raise PlanInputError(
            f"--stack-refs {path}: no such file. Write it from the referenced stack's plan, e.g. "
            f"`mlops-infra plan --program <the platform project's directory> --stack dev --format json > {path}`, "
            f"then `mlops-infra plan --stack <this stack> --stack-refs {path}` (or write a YAML/JSON mapping "
            "{\"<org>/<project>/<stack>\": {<output>: <value>}})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PlanInputError(f"{path}: cannot read stack references ({exc})") from None
    if isinstance(data, dict) and "resources" in data and "outputs" in data and "stack" in data:
        # A plan inventory: its outputs, under every name the stack may be referenced by.
        name = f"{data['project']}/{data['stack']}"
        return {name: data["outputs"], f"organization/{name}": data["outputs"]}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise PlanInputError(f"{path}: must map each stack name to a mapping of outputs")
    return data


def plan_from_args(args: argparse.Namespace) -> Inventory:
    """Plan the program named by --program/--stack; raises PlanInputError/PlanError."""
    from ..plan import plan_program

    root = project_root()
    program = args.program or root
    progress(args, f"planning stack {args.stack}" + (" and rendering its charts" if args.render else "") + " ...")
    return plan_program(program, args.stack, stack_refs=load_stack_refs(args.stack_refs),
                        resolve_ref=local_ref_resolver(root), render=bool(args.render))


def run_guarded(body: Callable[[], int]) -> int:
    """Map the plan engine's errors to one-line messages and exit codes (2 bad input, 1 program failure)."""
    from ..plan import PlanError, PlanInputError

    try:
        return body()
    except PlanInputError as exc:
        return fail(str(exc))
    except PlanError as exc:
        return fail(str(exc), 2 if exc.kind in ("input", "missing-ref") else 1)


def dump_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def add_stack_args(p: argparse.ArgumentParser) -> None:
    """Arguments shared by the commands that read a stack's config and talk to its AWS account."""
    p.add_argument("--stack", "-s", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    p.add_argument("--program", type=Path, default=None,
                   help="program directory (default: the project found at or above the current directory)")
    p.add_argument("--region", default=None, help="AWS region (default: the config's `region`)")
    p.add_argument("--profile", default=None, help="AWS profile (default: AWS_PROFILE or the default chain)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def read_config(args: argparse.Namespace) -> PlatformConfig:
    """The stack's validated `mlops:platform`, read as `plan` reads it. Raises PlanInputError / ConfigError."""
    from ..plan.program import find_program, read_stack_config
    from ..platform.loader import CONFIG_KEY, CONFIG_NAMESPACE, load_platform_config

    stack = read_stack_config(find_program(args.program or project_root()), args.stack)
    raw = stack.values.get(f"{CONFIG_NAMESPACE}:{CONFIG_KEY}")
    secret_keys = {k.split(":", 1)[1] for k in stack.secret_keys if k.startswith(f"{CONFIG_NAMESPACE}:")}
    value: Any = raw
    # Structured values arrive JSON-encoded, as the Pulumi SDK expects; a plain string stays a string and the
    # loader reports that it must be a mapping.
    with contextlib.suppress(json.JSONDecodeError, TypeError):
        value = json.loads(raw) if raw is not None else None
    return load_platform_config(value, secret_keys=secret_keys, aws_region=stack.values.get("aws:region"))
