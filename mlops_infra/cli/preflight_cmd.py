"""`mlops-infra preflight`: check GPU offerings, GPU vCPU quotas and the EKS version for a stack (boto3)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_stack_args, fail, project_root, read_config


def register(sub: Any) -> None:
    p = sub.add_parser(
        "preflight", help="check GPU offerings, GPU quotas and EKS version (boto3)",
        description="For the stack's config: every GPU instance type is offered in the VPC's AZs, the GPU vCPU "
                    "quotas (on-demand and spot, G/VT and P) cover every pool at max size, and the EKS version is "
                    "supported. Exit 1 on a blocking failure.")
    add_stack_args(p)


def stack_set_checks(args: argparse.Namespace) -> list[Any]:
    """FAIL for each account-level singleton this stack and another stack beside it both create (one GuardDuty
    detector and one account analyzer per account and Region: platform/stack_set.py)."""
    from ..aws.results import Check
    from ..plan.program import find_program
    from ..platform.stack_set import clashes_of

    program = find_program(args.program or project_root())
    return [Check("stack set", f"securityBaseline.{c.key}", "FAIL", c.message(),
                  f"set securityBaseline.{c.key} existing in stack {c.stack.stack}")
            for c in clashes_of(program.config_dir, args.stack)]


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
    checks = evaluate(config, facts) + stack_set_checks(args)
    if args.format == "json":
        print(dumps({"stack": args.stack, "region": aws.region, "account": account, "azs": facts.azs,
                     "blocking": blocking(checks), "checks": [c.as_json() for c in checks]}))
    else:
        print(f"Preflight for stack {args.stack}: region {aws.region}, account {account}, AZs {', '.join(facts.azs)}")
        print(render_checks(checks))
        print(summary_line(checks) + (" (blocking)" if blocking(checks) else ""))
    return 1 if blocking(checks) else 0
