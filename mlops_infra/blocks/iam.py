"""IAM policy documents built in Python (no invokes), so they are plain JSON in the plan and in state."""

from __future__ import annotations

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
