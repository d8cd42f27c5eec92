"""A small model of IAM shared by the families that follow a principal to what it may do (kms-users,
service-reach): each role's Allow statements gathered once per stack, and the matching of an action, a resource
ARN and the condition keys a request carries against a statement.

Conditions: a condition key the request carries (`kms:ViaService`, `aws:PrincipalArn`,
`kms:EncryptionContext:...`) is evaluated with the operator's semantics (Equals exact, Like globs, IfExists when
absent); a key the model does not know is taken as satisfied, so an unmodelled condition never makes a finding.
"""

from __future__ import annotations

import fnmatch
import json
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from .core import NotApplicable, Resource, Stack, as_list, json_doc, statements
from .invariants_index import index

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY = "aws:iam/policy:Policy"
Statement = dict[str, Any]


def _docs_of(res: Resource, prop: str) -> list[Statement]:
    try:
        return [s for s in statements(json_doc(res.get(prop), prop)) if s.get("Effect") == "Allow"]
    except NotApplicable:
        return []


def _role_keys(role: Resource) -> set[str]:
    """What a RolePolicy's or attachment's `role` input may hold for this role: its name, id or ARN."""
    return {str(v) for v in (role.get("name"), role.get("arn"), role.get("id")) if isinstance(v, str)}


class RoleGrants:
    """Role URN -> its Allow statements (inline, RolePolicy, attached customer policies); built once per stack."""

    def __init__(self, stack: Stack) -> None:
        idx = index(stack)
        self.roles = idx.of_type(ROLE)
        self.by_arn = {str(r.get("arn")): r for r in self.roles if isinstance(r.get("arn"), str)}
        by_key = {k: r.urn for r in self.roles for k in _role_keys(r)}
        self.statements: dict[str, list[Statement]] = defaultdict(list)
        for role in self.roles:
            for inline in as_list(role.get("inlinePolicies")):
                if isinstance(inline, Mapping):
                    self.statements[role.urn] += _docs_of(Resource("", "", "", inline), "policy")
        policies = {p.urn: p for p in idx.of_type(POLICY)}
        policies_by_arn = {str(p.get("arn")): p for p in policies.values() if isinstance(p.get("arn"), str)}
        for rp in idx.of_type(ROLE_POLICY):
            for urn in self._owners(rp, by_key):
                self.statements[urn] += _docs_of(rp, "policy")
        for att in idx.of_type(ATTACHMENT):
            found = [policies[u] for u in att.property_dependencies.get("policyArn", ()) if u in policies]
            if not found and str(att.get("policyArn")) in policies_by_arn:
                found = [policies_by_arn[str(att.get("policyArn"))]]
            for urn in self._owners(att, by_key):
                for policy in found:
                    self.statements[urn] += _docs_of(policy, "policy")

    def _owners(self, res: Resource, by_key: Mapping[str, str]) -> set[str]:
        roles = {r.urn for r in self.roles}
        owners = {u for u in res.property_dependencies.get("role", ()) if u in roles}
        if not owners and str(res.get("role")) in by_key:
            owners.add(by_key[str(res.get("role"))])
        return owners

    def of(self, role: Resource) -> list[Statement]:
        return self.statements.get(role.urn, [])


_GRANTS: weakref.WeakKeyDictionary[Stack, RoleGrants] = weakref.WeakKeyDictionary()


def role_grants(stack: Stack) -> RoleGrants:
    found = _GRANTS.get(stack)
    if found is None:
        found = _GRANTS[stack] = RoleGrants(stack)
    return found


def matches(patterns: Iterable[Any], value: str) -> bool:
    """An IAM glob list (`*`, `?`, case-insensitive for actions) against one value."""
    return any(isinstance(p, str) and fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def condition_holds(stmt: Mapping[str, Any], context: Mapping[str, str | None]) -> bool:
    """Every condition on a key in `context` holds for the request (`context` keys lower-case; a value of None means
    the request does not carry the key). Keys outside `context` are not judged (taken as satisfied)."""
    for op, block in (stmt.get("Condition") or {}).items():
        if not isinstance(block, Mapping):
            continue
        base = str(op).split(":")[-1]
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        for key, wanted in block.items():
            k = str(key).lower()
            if k not in context:
                continue
            value = context[k]
            if value is None:
                if not if_exists and base != "Null":
                    return False
                continue
            values = [str(v) for v in as_list(wanted)]
            if base in ("StringEquals", "ArnEquals"):
                ok = value in values
            elif base in ("StringEqualsIgnoreCase",):
                ok = value.lower() in (v.lower() for v in values)
            elif base in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(value, v) for v in values)
            elif base in ("StringNotEquals", "ArnNotEquals"):
                ok = value not in values
            elif base in ("StringNotLike", "ArnNotLike"):
                ok = not any(fnmatch.fnmatchcase(value, v) for v in values)
            elif base == "Bool":
                ok = value.lower() in (v.lower() for v in values)
            else:
                continue  # an operator the model does not evaluate: not judged
            if not ok:
                return False
    return True


def allows(stmts: Iterable[Statement], action: str, resource: str, context: Mapping[str, str | None]) -> bool:
    """Does any Allow statement grant `action` on `resource` (Resource `*` or a glob matching it) under `context`?"""
    for st in stmts:
        if st.get("Effect") != "Allow" or "NotAction" in st:
            continue
        if not matches(as_list(st.get("Action")), action):
            continue
        resources = as_list(st.get("Resource"))
        if "NotResource" not in st and not any(isinstance(r, str) and fnmatch.fnmatchcase(resource, r)
                                               for r in resources):
            continue
        if condition_holds(st, context):
            return True
    return False


# --- what the stack calls each resource ----------------------------------------------------------------------------

ARN_KINDS = {"aws:kms/key:Key": ("kms", "key/"), ROLE: ("iam", "role/"), "aws:sns/topic:Topic": ("sns", ""),
             "aws:secretsmanager/secret:Secret": ("secretsmanager", "secret:"),
             "aws:dynamodb/table:Table": ("dynamodb", "table/"), "aws:s3/bucket:Bucket": ("s3", ""),
             "aws:s3/bucketV2:BucketV2": ("s3", ""),
             "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("iam", "oidc-provider/")}
"""Types whose ARN other resources' inputs carry (a plan records inputs, not outputs)."""


def _strings(value: Any) -> Iterable[str]:
    """Every string in an input, a policy document given as a JSON string included."""
    if isinstance(value, str) and value.startswith("{") and '"Statement"' in value:
        try:
            yield from _strings(json.loads(value))
        except json.JSONDecodeError:
            yield value
    elif isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class Identifiers:
    """Resource URN -> the ARNs (and, for a single-source input, the names/ids) other inputs took from it: a plan
    records inputs only, so a key's ARN is known from the log group's `kmsKeyId` that came from it."""

    def __init__(self, stack: Stack) -> None:
        self.found: dict[str, set[str]] = defaultdict(set)
        for res in stack.resources:
            for prop, urns in res.property_dependencies.items():
                deps = [d for d in (stack.by_urn.get(u) for u in urns) if d is not None and d.type in ARN_KINDS]
                if not deps:
                    continue
                for value in _strings(res.props.get(prop)):
                    if value.startswith("arn:"):
                        parts = value.split(":", 5)
                        owners = [d for d in deps if len(parts) == 6 and parts[2] == ARN_KINDS[d.type][0]
                                  and parts[5].startswith(ARN_KINDS[d.type][1])]
                        if len(owners) == 1:
                            self.found[owners[0].urn].add(value)
                    elif len(urns) == 1 and len(deps) == 1:
                        self.found[deps[0].urn].add(value)

    def of(self, res: Resource) -> set[str]:
        own = {v for v in (res.get("arn"), res.get("id")) if isinstance(v, str) and v}
        return own | self.found.get(res.urn, set())

    def arn(self, res: Resource, marker: str = "") -> str | None:
        """The resource's ARN (containing `marker`), when the stack knows it."""
        arns = sorted(v for v in self.of(res) if v.startswith("arn:") and marker in v)
        return arns[0] if arns else None

    def name(self, res: Resource, prop: str = "name") -> str | None:
        """Its physical name: the `prop` input, else a non-ARN identifier other inputs took from it."""
        value = res.get(prop)
        if isinstance(value, str) and value:
            return value
        names = sorted(v for v in self.found.get(res.urn, ()) if not v.startswith("arn:") and "/" not in v)
        return names[0] if names else None


_IDS: weakref.WeakKeyDictionary[Stack, Identifiers] = weakref.WeakKeyDictionary()


def identifiers(stack: Stack) -> Identifiers:
    found = _IDS.get(stack)
    if found is None:
        found = _IDS[stack] = Identifiers(stack)
    return found
