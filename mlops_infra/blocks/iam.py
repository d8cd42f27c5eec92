"""IAM policy documents built in Python (no invokes), so they are plain JSON in the plan and in state."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

Statement = dict[str, Any]


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    effect: str = "Allow",
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
    principals: Mapping[str, Any] | None = None,
) -> Statement:
    """One statement. Actions are explicit: this library never writes `*` actions."""
    stmt: Statement = {"Sid": sid, "Effect": effect, "Action": sorted(actions)}
    if resources:  # trust policies have no Resource
        stmt["Resource"] = list(resources)
    if principals is not None:
        stmt["Principal"] = dict(principals)
    if conditions:
        stmt["Condition"] = {k: dict(v) for k, v in conditions.items()}
    return stmt


def prefixed(prefix: str, statements: Sequence[Statement]) -> list[Statement]:
    """`statements` with each Sid prefixed (`ListBucket` -> `ArtifactsListBucket`): IAM refuses a document whose Sids
    repeat, as two buckets' `read_statements` in one document would."""
    return [{**stmt, "Sid": prefix + str(stmt.get("Sid", ""))} for stmt in statements]


def document(statements: Sequence[Statement | pulumi.Output[Statement]]) -> pulumi.Output[str]:
    """A policy document as a JSON string output (resolves nested outputs such as ARNs)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust_document(statements: Sequence[Statement | pulumi.Output[Statement]]) -> pulumi.Output[str]:
    return document(statements)


# An IAM role ARN: `arn:<partition>:iam::<account>:role<path><name>`. The path is `/` or `/<printable ASCII>/`; a
# name is 1-64 of `[A-Za-z0-9_+=,.@-]`, never `/` (IAM API reference, Role: Path and RoleName patterns), so the name
# is exactly what follows the ARN's last `/`.
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role(?:/|/[\x21-\x7e]+/)([\w+=,.@-]{1,64})", re.ASCII)


def role_name(arn: str) -> str:
    """The name of the IAM role `arn` (its path dropped: what `iam:AddRoleToInstanceProfile` and an EC2NodeClass's
    `role` take). Exact for every role ARN, with or without a path; anything else is refused."""
    found = _ROLE_ARN.fullmatch(arn)
    if found is None:
        raise ValueError(f"not an IAM role ARN: {arn!r} (arn:<partition>:iam::<account>:role/[<path>/]<name>)")
    return found.group(1)
