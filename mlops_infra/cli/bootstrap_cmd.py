"""`mlops-infra bootstrap`: create or verify the S3 bucket and KMS key of a Pulumi state backend (boto3)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import fail


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bootstrap", help="create or verify a Pulumi state backend: S3 + KMS (boto3)",
        description="Create, idempotently, an S3 bucket (versioning, SSE-KMS, public access block, TLS-only policy, "
                    "owner-enforced ownership) and a KMS key + alias for Pulumi's secrets provider. A misconfigured "
                    "existing bucket or key is reported (exit 1) and changed only with --fix.")
    p.add_argument("--bucket", required=True, help="state bucket name")
    p.add_argument("--region", required=True, help="AWS region of the bucket and key")
    p.add_argument("--kms-alias", default=None, metavar="alias/NAME",
                   help="KMS alias for the key (default: alias/pulumi-<bucket>)")
    p.add_argument("--fix", action="store_true", help="correct drifted settings of an existing bucket or key")
    p.add_argument("--profile", default=None, help="AWS profile (default: AWS_PROFILE or the default chain)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    from ..aws.bootstrap import BootstrapInputError, bootstrap
    from ..aws.results import dumps
    from ..aws.session import Aws, AwsOperationError

    try:
        aws = Aws(region=args.region, profile=args.profile)
        result = bootstrap(aws, args.bucket, alias=args.kms_alias, fix=args.fix)
    except (AwsOperationError, BootstrapInputError) as exc:
        return fail(str(exc))
    print(dumps(result.as_json()) if args.format == "json" else result.render())
    return 1 if result.drift else 0
