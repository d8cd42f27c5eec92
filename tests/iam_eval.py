"""A tiny IAM evaluator for tests: does a set of identity-policy documents allow one request?

It follows the IAM evaluation logic for what this library writes (docs: "Policy evaluation logic" and "IAM JSON
policy elements: Condition operators"): an explicit Deny wins, otherwise any matching Allow allows. Actions match
case-insensitively with `*`/`?` wildcards; resources match case-sensitively. A condition block is an AND of its
operators and keys, an OR of each key's values. A key that is absent from the request context makes the operator
false, except `...IfExists` operators (true) and the negated ones (`StringNotEquals`, `StringNotLike`: true), as IAM
does. This is how "HeadBucket sends no s3:prefix" becomes a testable fact: `context` simply lacks the key.

Resource policies (bucket and VPC endpoint policies) are judged by `denies` and `resource_allows`, which also
match the statement's `Principal` against the request's `aws:PrincipalArn`. Multi-valued keys (`aws:CalledVia`)
take a list in `context` and the `ForAllValues:`/`ForAnyValue:` qualifiers: ForAllValues is true for an absent
or empty key, ForAnyValue false (IAM "Multivalued context keys").

A statement's `NotAction` matches every action but the ones it lists (the bucket guards' second Deny uses it).
Not covered (the tests never need it): NotResource and NotPrincipal (a statement with either raises
NotImplementedError rather than being misjudged), policy variables, numeric/date operators, SCPs and permission
boundaries.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from typing import Any

Doc = Mapping[str, Any] | str


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _operator(op: str, wanted: list[str], actual: str) -> bool:
    if op in ("StringEquals", "ArnEquals"):
        return actual in wanted
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in {w.lower() for w in wanted}
    if op in ("StringLike", "ArnLike"):
        return any(_glob(w, actual, case=True) for w in wanted)
    if op == "StringNotEquals":
        return actual not in wanted
    if op == "StringNotLike":
        return not any(_glob(w, actual, case=True) for w in wanted)
    if op == "ArnNotEquals":
        return actual not in wanted
    if op == "ArnNotLike":
        return not any(_glob(w, actual, case=True) for w in wanted)
    if op == "Bool":
        return actual.lower() in {str(w).lower() for w in wanted}
    raise NotImplementedError(f"condition operator {op!r}")


NEGATED = ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")


def _set_operator(qualifier: str, op: str, wanted: list[str], actual: Any) -> bool:
    """`ForAllValues:` / `ForAnyValue:` over a multi-valued key (absent = empty set)."""
    values = [str(v) for v in (_list(actual) if actual is not None else [])]
    if qualifier == "ForAllValues":
        return all(_operator(op, wanted, v) for v in values)
    return any(_operator(op, wanted, v) for v in values)


def _conditions_hold(block: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> bool:
    ctx = {k.lower(): v for k, v in context.items()}
    for raw_op, keys in block.items():
        qualifier, _, bare = raw_op.rpartition(":")
        if qualifier:
            if not all(_set_operator(qualifier, bare, [str(v) for v in _list(values)], ctx.get(key.lower()))
                       for key, values in keys.items()):
                return False
            continue
        if_exists = raw_op.endswith("IfExists")
        op = raw_op.removesuffix("IfExists")
        for key, values in keys.items():
            if op == "Null":
                if (key.lower() not in ctx) != (str(_list(values)[0]).lower() == "true"):
                    return False
                continue
            if key.lower() not in ctx:
                if if_exists or op in NEGATED:
                    continue
                return False
            if not _operator(op, [str(v) for v in _list(values)], str(ctx[key.lower()])):
                return False
    return True


def _matches(stmt: Mapping[str, Any], action: str, resource: str, context: Mapping[str, Any]) -> bool:
    unsupported = {"NotResource", "NotPrincipal"} & set(stmt)
    if unsupported:
        raise NotImplementedError(f"iam_eval does not judge {sorted(unsupported)}: {stmt.get('Sid')}")
    if "NotAction" in stmt:  # every action but these
        if any(_glob(a, action, case=False) for a in _list(stmt["NotAction"])):
            return False
    elif not any(_glob(a, action, case=False) for a in _list(stmt.get("Action", []))):
        return False
    if not any(_glob(r, resource, case=True) for r in _list(stmt.get("Resource", []))):
        return False
    return _conditions_hold(stmt.get("Condition", {}), context)


def statements(docs: Iterable[Doc]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for doc in docs:
        parsed = json.loads(doc) if isinstance(doc, str) else doc
        out += _list(parsed.get("Statement", []))
    return out


def allows(docs: Iterable[Doc], action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
    """True when the documents allow `action` on `resource` with the request's condition keys `context`."""
    stmts = statements(docs)
    ctx = context or {}
    if any(s.get("Effect") == "Deny" and _matches(s, action, resource, ctx) for s in stmts):
        return False
    return any(s.get("Effect") == "Allow" and _matches(s, action, resource, ctx) for s in stmts)


def trusts(doc: Doc, principal: Mapping[str, str], action: str, context: Mapping[str, str] | None = None) -> bool:
    """True when a trust policy lets `principal` (e.g. {"Service": "sagemaker.amazonaws.com"}) call `action`."""
    for stmt in statements([doc]):
        declared = stmt.get("Principal", {})
        who = any(principal.get(kind) in _list(declared.get(kind, [])) for kind in principal)
        acts = any(_glob(a, action, case=False) for a in _list(stmt.get("Action", [])))
        if stmt.get("Effect") == "Allow" and who and acts and _conditions_hold(stmt.get("Condition", {}), context or {}):
            return True
    return False


def _principal_matches(stmt: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """A resource policy's `Principal`: `*`, `{"AWS": "*"}`, or ARNs compared with the request's aws:PrincipalArn."""
    declared = stmt.get("Principal", "*")
    if declared == "*":
        return True
    arns = [str(a) for a in _list(declared.get("AWS", []))]
    caller = {k.lower(): v for k, v in context.items()}.get("aws:principalarn")
    return "*" in arns or (caller is not None and str(caller) in arns)


def denies(docs: Iterable[Doc], action: str, resource: str, context: Mapping[str, Any] | None = None) -> bool:
    """True when a resource policy (e.g. a bucket policy) explicitly denies the request: no identity policy can
    then allow it. `context` carries the request's keys (aws:PrincipalArn, aws:SourceVpce, aws:CalledVia, ...)."""
    ctx = context or {}
    return any(s.get("Effect") == "Deny" and _principal_matches(s, ctx) and _matches(s, action, resource, ctx)
               for s in statements(docs))


def resource_allows(docs: Iterable[Doc], action: str, resource: str, context: Mapping[str, Any] | None = None) -> bool:
    """True when a resource policy that must allow (e.g. a VPC endpoint policy) allows the request."""
    ctx = context or {}
    stmts = statements(docs)
    if denies(stmts, action, resource, ctx):
        return False
    return any(s.get("Effect") == "Allow" and _principal_matches(s, ctx) and _matches(s, action, resource, ctx)
               for s in stmts)


ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def role_documents(records: Iterable[Any], role: Any) -> list[Doc]:
    """The identity policies IAM evaluates for a planned role (`records`: a plan's resource records, `role`: the
    role's record): its inline RolePolicies and the customer managed Policies attached to it. Inline policies name
    the role by id, attachments by name (both the role's physical name in a plan). An attachment of a policy the
    plan does not hold (an AWS managed one, or another stack's) is an error: it cannot be evaluated here."""
    records = list(records)
    managed = {r.id: r.inputs["policy"] for r in records if r.type == MANAGED_POLICY}
    docs: list[Doc] = [r.inputs["policy"] for r in records if r.type == ROLE_POLICY and r.inputs.get("role") == role.id]
    for attachment in (r for r in records if r.type == ATTACHMENT and r.inputs.get("role") == role.id):
        arn = attachment.inputs["policyArn"]
        if arn not in managed:
            raise KeyError(f"{attachment.name}: attached policy {arn} is not in the plan")
        docs.append(managed[arn])
    return docs
