"""AWS operations around the Pulumi engine, on boto3: state backend bootstrap, preflight checks, live audit.

Uses the config models and nothing of Pulumi. Every client comes from `session.Aws`, so the standard AWS
environment (profile, region, AWS_ENDPOINT_URL) and botocore's retry modes apply everywhere.
"""

from .session import Aws, AwsOperationError

__all__ = ["Aws", "AwsOperationError"]
