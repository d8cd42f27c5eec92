"""`mlops-infra audit`: check the live account's platform resources against the key controls (boto3)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_stack_args, fail, read_config


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit", help="find security drift in the live account (boto3, read-only)",
        description="Reads the account and checks every resource tagged with the stack's environment and owner: "
                    "S3 encryption, public access block and versioning; EKS endpoint, logging and secrets "
                    "encryption; RDS encryption, public access, deletion protection and backups; DynamoDB PITR; "
                    "IMDSv2 on node group launch templates. Exit 1 when drift is found.")
    add_stack_args(p)


def run(args: argparse.Namespace) -> int:
    from ..aws.audit import audit
    from ..aws.results import blocking, dumps, render_checks, summary_line
    from ..aws.session import Aws, AwsOperationError
    from ..config import ConfigError
    from ..plan.program import PlanInputError

    try:
        config = read_config(args)
    except (PlanInputError, ConfigError) as exc:
        return fail(str(exc))
    try:
        report = audit(Aws(region=args.region or config.region, profile=args.profile), config)
    except AwsOperationError as exc:
        return fail(str(exc))
    drift = blocking(report.checks)
    if args.format == "json":
        print(dumps({"stack": args.stack, **report.as_json()}))
    else:
        scope = ", ".join(f"{k}={v}" for k, v in report.tags.items())
        found = ", ".join(f"{n} {kind}" for kind, n in report.resources.items())
        print(f"Audit of stack {args.stack}: region {report.region}, account {report.account}, tagged {scope}")
        print(f"Found: {found}")
        if report.checks:
            print(render_checks(report.checks))
        print(summary_line(report.checks) + (" (drift found)" if drift else ""))
    return 1 if drift else 0
