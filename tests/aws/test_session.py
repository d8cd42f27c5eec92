"""The client factory: botocore's own retry mode does the retrying, and errors become one line."""

from __future__ import annotations

from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from mlops_infra.aws.session import Aws, AwsOperationError

from .conftest import REGION, run_cli

THROTTLED = (b'<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>'
             b'</Error><RequestId>1</RequestId></ErrorResponse>')


class _Raw:
    def stream(self, **_: Any) -> Any:
        yield THROTTLED


def test_standard_retry_mode_retries_throttling_then_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _s: None)  # keep botocore's backoff instant
    aws = Aws(region=REGION, max_attempts=3)
    assert aws.config.retries == {"mode": "standard", "total_max_attempts": 3}
    sent: list[str] = []

    def throttle(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        return AWSResponse(request.url, 400, {}, _Raw())

    aws.sts.meta.events.register("before-send.sts.GetCallerIdentity", throttle)
    with pytest.raises(AwsOperationError) as err:
        aws.account_id()
    assert len(sent) == 3  # botocore retried; we wrote no loop
    assert str(err.value) == ("throttled by AWS: GetCallerIdentity still failed after 3 attempts (Throttling); "
                              "retry later or set AWS_RETRY_MODE=adaptive")


def test_adaptive_mode_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    assert Aws(region=REGION).config.retries == {"mode": "adaptive", "total_max_attempts": 6}


def test_endpoint_url_from_the_environment_reaches_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    aws = Aws(region=REGION)
    assert {aws.s3.meta.endpoint_url, aws.ec2.meta.endpoint_url, aws.service_quotas.meta.endpoint_url} == {
        "http://127.0.0.1:4566"}


def test_unknown_profile_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "bootstrap", "--bucket", "b-state", "--region", REGION, "--profile", "nope")
    assert (code, out, err) == (2, "", "mlops-infra: error: AWS profile not found: nope\n")
