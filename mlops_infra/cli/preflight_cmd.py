"""`mlops-infra preflight`: check GPU offerings, GPU vCPU quotas and the EKS version for a stack (boto3)."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import fail, project_root

if TYPE_CHECKING:
    from ..config import PlatformConfig


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
    from ..config import CONFIG_KEY, CONFIG_NAMESPACE, load_platform_config
    from ..plan.program import find_program, read_stack_config

    stack = read_stack_config(find_program(args.program or project_root()), args.stack)
    raw = stack.values.get(f"{CONFIG_NAMESPACE}:{CONFIG_KEY}")
    secret_keys = {k.split(":", 1)[1] for k in stack.secret_keys if k.startswith(f"{CONFIG_NAMESPACE}:")}
    value: Any = raw
    # Structured values arrive JSON-encoded, as the Pulumi SDK expects; a plain string stays a string and the
    # loader reports that it must be a mapping.
    with contextlib.suppress(json.JSONDecodeError, TypeError):
        value = json.loads(raw) if raw is not None else None
    return load_platform_config(value, secret_keys=secret_keys)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "preflight", help="check GPU offerings, GPU quotas and EKS version (boto3)",
        description="For the stack's config: every GPU instance type is offered in the VPC's AZs, the GPU vCPU "
                    "quotas (on-demand and spot, G/VT and P) cover every pool at max size, and the EKS version is "
                    "supported. Exit 1 on a blocking failure.")
    add_stack_args(p)


def run(args: argparse.Namespace) -> int:
    from ..aws.preflight import evaluate, gather
    from ..aws.results import blocking, dumps, render_checks, summary_line
    from ..aws.session import Aws, AwsOperationError
    from ..config import ConfigError
    from ..plan.program import PlanInputError

    try:
        config = read_config(args)
    except (PlanInputError, ConfigError) as exc:
        return fail(str(exc))
    try:
        aws = Aws(region=args.region or config.region, profile=args.profile)
        account = aws.account_id()
        facts = gather(aws, config)
    except AwsOperationError as exc:
        return fail(str(exc))
    checks = evaluate(config, facts)
    if args.format == "json":
        print(dumps({"stack": args.stack, "region": aws.region, "account": account, "azs": facts.azs,
                     "blocking": blocking(checks), "checks": [c.as_json() for c in checks]}))
    else:
        print(f"Preflight for stack {args.stack}: region {aws.region}, account {account}, AZs {', '.join(facts.azs)}")
        print(render_checks(checks))
        print(summary_line(checks) + (" (blocking)" if blocking(checks) else ""))
    return 1 if blocking(checks) else 0
