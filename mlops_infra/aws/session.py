"""The one place that builds boto3 clients, and the one place that turns AWS errors into one-line messages.

Clients honour the standard AWS environment: `AWS_PROFILE` (or `profile`), the region, and `AWS_ENDPOINT_URL`
/ `AWS_ENDPOINT_URL_<SERVICE>`, which botocore itself reads (botocore >= 1.31 / boto3 >= 1.28,
`botocore.configprovider`), so every command also runs against an AWS-compatible endpoint such as moto.
Retries are botocore's own retry modes (`standard` by default, `adaptive` on request); nothing here loops.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
    WaiterError,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_eks import EKSClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_service_quotas import ServiceQuotasClient
    from mypy_boto3_sts import STSClient

RetryMode = Literal["standard", "adaptive"]

ACCESS_DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden", "403",
    "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch",
})
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "RequestThrottled",
    "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
})
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})


class AwsOperationError(Exception):
    """A failed AWS call, as one line a user can act on (the CLI prints it and exits 2)."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def describe_error(exc: BaseException, *, max_attempts: int | None = None) -> str:
    """One line for an AWS/botocore exception; no traceback, no request ids."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).strip() or code
        op = exc.operation_name
        if code in ACCESS_DENIED_CODES:
            return f"access denied: {op} ({message}); check the IAM permissions of the current AWS identity"
        if code in THROTTLING_CODES:
            tries = f" after {max_attempts} attempts" if max_attempts else ""
            return f"throttled by AWS: {op} still failed{tries} ({code}); retry later or set AWS_RETRY_MODE=adaptive"
        if code in EXPIRED_CODES:
            return f"AWS credentials have expired ({op}: {message}); refresh them (e.g. aws sso login)"
        return f"{op} failed: {code}: {message}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ("no AWS credentials found: set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, TokenRetrievalError | SSOError):
        return f"AWS SSO session is not usable ({exc}); run aws sso login"
    if isinstance(exc, CredentialRetrievalError):
        return f"cannot load AWS credentials: {exc}"
    if isinstance(exc, ProfileNotFound):
        return f"AWS profile not found: {exc.kwargs.get('profile')}"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return f"cannot reach the AWS endpoint: {exc}"
    if isinstance(exc, WaiterError):
        return f"gave up waiting: {exc}"
    return f"AWS call failed: {exc}"


@contextmanager
def aws_errors(max_attempts: int | None = None) -> Iterator[None]:
    """Turn botocore's exceptions raised inside the block into `AwsOperationError` one-liners."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise AwsOperationError(describe_error(exc, max_attempts=max_attempts)) from None


def _retry_mode_from_env() -> RetryMode:
    return "adaptive" if os.environ.get("AWS_RETRY_MODE") == "adaptive" else "standard"


class Aws:
    """Clients for one region, built lazily from one boto3 Session and one retry `Config`.

    `region` default: the session's region (AWS_REGION / AWS_DEFAULT_REGION / the profile).
    `retry_mode` default: `adaptive` when AWS_RETRY_MODE=adaptive, else `standard` (never `legacy`).
    `max_attempts` default: 6 (the first call plus 5 retries).
    """

    def __init__(self, *, region: str | None = None, profile: str | None = None,
                 retry_mode: RetryMode | None = None, max_attempts: int = 6) -> None:
        self.max_attempts = max_attempts
        self.retry_mode: RetryMode = retry_mode or _retry_mode_from_env()
        with aws_errors():
            self.session = boto3.session.Session(profile_name=profile, region_name=region)
        if not self.session.region_name:
            raise AwsOperationError(describe_error(NoRegionError()))
        self.region: str = self.session.region_name
        self.profile = profile or os.environ.get("AWS_PROFILE") or None
        self.config = Config(retries={"mode": self.retry_mode, "total_max_attempts": max_attempts},
                             user_agent_extra="mlops-infra")

    @property
    def endpoint_url(self) -> str | None:
        """The custom endpoint botocore will use (AWS_ENDPOINT_URL), for display only."""
        return os.environ.get("AWS_ENDPOINT_URL") or None

    def errors(self) -> AbstractContextManager[None]:
        """`aws_errors` that names this client's retry budget in throttling messages."""
        return aws_errors(self.max_attempts)

    @cached_property
    def sts(self) -> STSClient:
        return self.session.client("sts", config=self.config)

    @cached_property
    def s3(self) -> S3Client:
        return self.session.client("s3", config=self.config)

    @cached_property
    def kms(self) -> KMSClient:
        return self.session.client("kms", config=self.config)

    @cached_property
    def ec2(self) -> EC2Client:
        return self.session.client("ec2", config=self.config)

    @cached_property
    def eks(self) -> EKSClient:
        return self.session.client("eks", config=self.config)

    @cached_property
    def rds(self) -> RDSClient:
        return self.session.client("rds", config=self.config)

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self.session.client("dynamodb", config=self.config)

    @cached_property
    def service_quotas(self) -> ServiceQuotasClient:
        return self.session.client("service-quotas", config=self.config)

    @cached_property
    def tagging(self) -> ResourceGroupsTaggingAPIClient:
        return self.session.client("resourcegroupstaggingapi", config=self.config)

    # No mypy_boto3 stubs are installed for these two (only preflight's few calls use them).
    @cached_property
    def guardduty(self) -> Any:
        return self.session.client("guardduty", config=self.config)

    @cached_property
    def accessanalyzer(self) -> Any:
        return self.session.client("accessanalyzer", config=self.config)

    def account_id(self) -> str:
        """The caller's account (also proves the credentials work)."""
        with self.errors():
            return self.sts.get_caller_identity()["Account"]
