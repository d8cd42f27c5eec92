"""Policy documents as IAM (and S3, KMS) validate them when `pulumi up` sends them: refused, not judged.

IAM rejects a malformed document with `MalformedPolicyDocument` or `LimitExceeded` at create, whatever any policy
pack says; so these are engine errors (exit 2), like a name over its limit, and run on every plan, test and `check`.
(Judgements about a *valid* document, such as wildcard resources, stay in the policy packs.)

What is checked, per the IAM User Guide (JSON policy element reference; IAM and STS quotas):
- the JSON parses; `Version` is 2012-10-17 or 2008-10-17; `Statement` is an object or a list of objects;
- each statement: `Effect` Allow or Deny; exactly one of `Action`/`NotAction`; identity policies carry a
  `Resource`/`NotResource` and no `Principal`; trust and resource policies carry a `Principal`/`NotPrincipal`;
- `Sid`s are unique within the document and, in IAM documents, alphanumeric;
- actions read `service:Action` (letters, digits and `-` in the service; letters, digits and `*?` wildcards in the
  action) or `*`;
- principals are `*` or a map of `AWS`, `Service`, `Federated`, `CanonicalUser` to strings or lists: AWS an ARN,
  a 12-digit account or `*`; Service a `*.amazonaws.com`-style host; CanonicalUser 64 hex characters;
- condition blocks map an operator (`StringEquals`, ... with optional `IfExists` and `ForAllValues:`/
  `ForAnyValue:`) to keys written `prefix:name` with no whitespace;
- sizes, counting characters other than whitespace: managed policy 6,144; a role's inline policies 10,240 (each,
  and all of one role's together); trust policy 2,048 (the default quota); S3 bucket policy 20 KB; KMS key policy
  32 KB.

A document still `[unknown]` (or secret) when the plan records it is not judged, and neither is any value inside
one that is unknown: it would only be a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .inventory import SECRET, UNKNOWN, ResourceRecord
from .names import aws_auto_name

IDENTITY, TRUST, RESOURCE = "identity", "trust", "resource"

# type -> [(input, kind, size limit or None, IAM document: Sid charset rules)]
DOCUMENTS: dict[str, list[tuple[str, str, int | None, bool]]] = {
    "aws:iam/policy:Policy": [("policy", IDENTITY, 6_144, True)],
    "aws:iam/rolePolicy:RolePolicy": [("policy", IDENTITY, 10_240, True)],
    "aws:iam/userPolicy:UserPolicy": [("policy", IDENTITY, 2_048, True)],
    "aws:iam/groupPolicy:GroupPolicy": [("policy", IDENTITY, 5_120, True)],
    "aws:iam/role:Role": [("assumeRolePolicy", TRUST, 2_048, True)],
    "aws:s3/bucketPolicy:BucketPolicy": [("policy", RESOURCE, 20_480, False)],
    "aws:kms/key:Key": [("policy", RESOURCE, 32_768, False)],
    "aws:sns/topicPolicy:TopicPolicy": [("policy", RESOURCE, None, False)],
    "aws:sqs/queuePolicy:QueuePolicy": [("policy", RESOURCE, None, False)],
    "aws:ec2/vpcEndpoint:VpcEndpoint": [("policy", RESOURCE, None, False)],
}
INLINE_ROLE_POLICY_LIMIT = 10_240

_ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
_SID_IAM = re.compile(r"^[A-Za-z0-9]*$")
_ACCOUNT = re.compile(r"^\d{12}$")
_SERVICE = re.compile(r"^[a-z0-9.-]+\.(amazonaws\.com|amazonaws\.com\.cn|amazon\.com)$|^\*$")
_CANONICAL = re.compile(r"^[0-9a-f]{64}$")
_CONDITION_KEY = re.compile(r"^[^\s:]+:\S+$")
_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
    "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
    "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
}
_PRINCIPAL_KEYS = {"AWS", "Service", "Federated", "CanonicalUser"}


def _unknown(value: Any) -> bool:
    return value in (UNKNOWN, SECRET)


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_contains_unknown(k) or _contains_unknown(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return isinstance(value, str) and (UNKNOWN in value or SECRET in value)


def _strings(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal(value: Any) -> Iterator[str]:
    if value == "*" or _unknown(value):
        return
    if not isinstance(value, Mapping):
        yield f"principal {value!r} is neither '*' nor a map of AWS/Service/Federated/CanonicalUser"
        return
    for key, entries in value.items():
        if key not in _PRINCIPAL_KEYS:
            yield f"principal type {key!r} is not one of {', '.join(sorted(_PRINCIPAL_KEYS))}"
            continue
        for entry in _strings(entries):
            if not isinstance(entry, str) or _contains_unknown(entry):
                continue
            ok = {"AWS": entry == "*" or bool(_ACCOUNT.match(entry)) or entry.startswith("arn:"),
                  "Service": bool(_SERVICE.match(entry)),
                  "Federated": entry.startswith("arn:") or "." in entry,
                  "CanonicalUser": bool(_CANONICAL.match(entry))}[key]
            if not ok:
                yield f"{key} principal {entry!r} is not a valid {key} principal"


def _condition(value: Any) -> Iterator[str]:
    if _unknown(value):
        return
    if not isinstance(value, Mapping):
        yield "Condition is not a map of operators"
        return
    for operator, block in value.items():
        base = operator.split(":", 1)[1] if operator.startswith(("ForAllValues:", "ForAnyValue:")) else operator
        base = base.removesuffix("IfExists")
        if base not in _OPERATORS:
            yield f"condition operator {operator!r} is not an IAM condition operator"
        if not isinstance(block, Mapping):
            if not _unknown(block):
                yield f"condition {operator!r} is not a map of condition keys"
            continue
        for key in block:
            if not _contains_unknown(key) and not _CONDITION_KEY.match(key):
                yield f"condition key {key!r} is not written prefix:name"


def statement_problems(stmt: Any, kind: str, iam: bool) -> Iterator[str]:
    if not isinstance(stmt, Mapping):
        yield "a statement is not an object"
        return
    if stmt.get("Effect") not in ("Allow", "Deny") and not _unknown(stmt.get("Effect")):
        yield f"Effect {stmt.get('Effect')!r} is neither Allow nor Deny"
    if ("Action" in stmt) == ("NotAction" in stmt):
        yield "a statement needs exactly one of Action and NotAction"
    for action in _strings(stmt.get("Action", stmt.get("NotAction", []))):
        if isinstance(action, str) and not _contains_unknown(action) and not _ACTION.match(action):
            yield f"action {action!r} is not written service:Action"
    has_principal = "Principal" in stmt or "NotPrincipal" in stmt
    if kind == IDENTITY and has_principal:
        yield "an identity policy may not name a Principal"
    if kind in (TRUST, RESOURCE) and not has_principal:
        yield f"a {kind} policy statement needs a Principal"
    if kind == IDENTITY and "Resource" not in stmt and "NotResource" not in stmt:
        yield "an identity policy statement needs a Resource"
    if kind == TRUST and ("Resource" in stmt or "NotResource" in stmt):
        yield "a trust policy may not name a Resource"
    yield from _principal(stmt.get("Principal", stmt.get("NotPrincipal", "*")))
    if "Condition" in stmt:
        yield from _condition(stmt["Condition"])
    sid = stmt.get("Sid")
    if iam and isinstance(sid, str) and not _contains_unknown(sid) and not _SID_IAM.match(sid):
        yield f"Sid {sid!r} is not alphanumeric"


def _parse(value: Any) -> tuple[Any, str | None]:
    """(the document, its text as sent or None when given as an object)."""
    if isinstance(value, str):
        return json.loads(value), value
    return value, None


def document_problems(value: Any, kind: str, limit: int | None, iam: bool) -> list[str]:
    """What IAM would refuse in one document (`value`: its JSON text, or the object pulumi-aws also accepts)."""
    if value is None or _unknown(value):
        return []
    try:
        doc, text = _parse(value)
    except json.JSONDecodeError as err:
        return [] if _contains_unknown(value) else [f"is not JSON ({err.msg} at character {err.pos})"]
    if not isinstance(doc, Mapping):
        return ["is not a JSON object"]
    problems: list[str] = []
    if doc.get("Version") not in (None, "2012-10-17", "2008-10-17"):
        problems.append(f"Version {doc.get('Version')!r} is neither 2012-10-17 nor 2008-10-17")
    statements = doc.get("Statement")
    if statements is None:
        problems.append("has no Statement")
    statements = statements if isinstance(statements, list) else [statements] if statements is not None else []
    seen: dict[str, int] = {}
    for stmt in statements:
        problems += statement_problems(stmt, kind, iam)
        sid = stmt.get("Sid") if isinstance(stmt, Mapping) else None
        if isinstance(sid, str) and sid and not _contains_unknown(sid):
            seen[sid] = seen.get(sid, 0) + 1
    problems += [f"Sid {sid!r} appears {n} times (Sids must be unique within a policy)"
                 for sid, n in seen.items() if n > 1]
    if limit is not None and not _contains_unknown(doc):
        size = len(re.sub(r"\s", "", text if text is not None else json.dumps(doc)))
        if size > limit:
            problems.append(f"is {size} characters without whitespace, over the limit of {limit}")
    return problems


def _documents(record: ResourceRecord) -> Iterator[tuple[str, Any, str, int | None, bool]]:
    for field, kind, limit, iam in DOCUMENTS.get(record.type, []):
        yield field, record.inputs.get(field), kind, limit, iam
    if record.type == "aws:iam/role:Role":
        for i, inline in enumerate(record.inputs.get("inlinePolicies") or []):
            if isinstance(inline, Mapping):
                yield f"inlinePolicies[{i}].policy", inline.get("policy"), IDENTITY, INLINE_ROLE_POLICY_LIMIT, True


def _size(value: Any) -> int | None:
    """A known document's size without whitespace, or None."""
    if value is None or _contains_unknown(value):
        return None
    try:
        doc, text = _parse(value)
    except json.JSONDecodeError:
        return None
    return len(re.sub(r"\s", "", text if text is not None else json.dumps(doc)))


def role_inline_totals(records: Sequence[ResourceRecord]) -> list[str]:
    """IAM's 10,240 is the aggregate of a role's inline policies: its `inlinePolicies` and every RolePolicy naming
    it (by the role's name, as `role=role.id` or `role.name` passes it)."""
    roles: dict[str, ResourceRecord] = {}
    totals: dict[str, int] = {}
    for record in records:
        if record.type == "aws:iam/role:Role" and record.custom:
            name = record.inputs.get("name") or aws_auto_name(record.type, "name", record.name, record.inputs)[0]
            roles[str(name)] = record
            totals[record.urn] = sum(_size(p.get("policy")) or 0 for p in record.inputs.get("inlinePolicies") or []
                                     if isinstance(p, Mapping))
    for record in records:
        role = roles.get(str(record.inputs.get("role"))) if record.type == "aws:iam/rolePolicy:RolePolicy" else None
        if role is not None:
            totals[role.urn] += _size(record.inputs.get("policy")) or 0
    return [f"{urn}: inline policies total {total} characters without whitespace, over the role's aggregate limit of "
            f"{INLINE_ROLE_POLICY_LIMIT}" for urn, total in totals.items() if total > INLINE_ROLE_POLICY_LIMIT]


def policy_problems(records: Sequence[ResourceRecord]) -> list[str]:
    """One line per refused document element: the resource's URN, the input, and what IAM refuses."""
    problems: list[str] = []
    for record in records:
        if not record.custom or (record.options or {}).get("read"):
            continue
        for field, value, kind, limit, iam in _documents(record):
            problems += [f"{record.urn}: {field} {p}" for p in document_problems(value, kind, limit, iam)]
    return problems + role_inline_totals(records)
