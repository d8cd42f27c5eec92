"""IAM: no `*` on `*`, no service-wide wildcards, no admin attachments, no open trust, scoped IRSA trust."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, as_list, is_unknown, json_doc, known, resource_policy, statements

ROLE = "aws:iam/role:Role"
POLICY_DOCS = ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy",
               "aws:iam/groupPolicy:GroupPolicy")
ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/userPolicyAttachment:UserPolicyAttachment",
               "aws:iam/groupPolicyAttachment:GroupPolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment")


def _permission_docs(res: Resource) -> list[tuple[str, dict[str, Any] | None]]:
    if res.type == ROLE:
        return [(f"inline policy {known(p, 'inline policy').get('name') or i}",
                 json_doc(p.get("policy"), "inline policy"))
                for i, p in enumerate(known(res.get("inlinePolicies"), "inlinePolicies") or [])]
    return [("policy", json_doc(res.get("policy"), "policy document"))]


def _allows(doc: dict[str, Any] | None) -> Iterable[tuple[str, dict[str, Any]]]:
    for i, stmt in enumerate(statements(doc)):
        if stmt.get("Effect") == "Allow":
            yield str(stmt.get("Sid") or i), stmt


@resource_policy(
    "mlops-iam-no-star-on-star",
    types=[*POLICY_DOCS, ROLE],
    description="IAM policies never allow action * on resource *.",
    severity="critical", pack="mlops-security",
    controls=("CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_286", "CKV_AWS_355", "FSBP IAM.1", "FSBP IAM.21",
              "CIS-AWS 1.16", "SOC2 CC6.3", "PCI-DSS 7.2.1"),
    remediation="List the exact actions the workload calls and the exact ARNs it touches.",
)
def no_star_on_star(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for where, doc in _permission_docs(res):
        for sid, stmt in _allows(doc):
            actions = as_list(stmt.get("Action"))
            resources = as_list(stmt.get("Resource"))
            if any(a in ("*", "*:*") for a in actions) and "*" in resources:
                yield f"{where} statement {sid} allows * on *"


@resource_policy(
    "mlops-iam-no-wildcard-actions",
    types=[*POLICY_DOCS, ROLE],
    description="IAM policies name explicit actions, never `*` or a whole service (`s3:*`).",
    severity="high", pack="mlops-security",
    controls=("CKV_AWS_287", "CKV_AWS_288", "CKV_AWS_289", "CKV_AWS_290", "FSBP IAM.21", "SOC2 CC6.3",
              "ISO27001 A.5.15", "PCI-DSS 7.2.2"),
    remediation="Replace wildcard actions with the explicit list the workload needs.",
)
def no_wildcard_actions(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for where, doc in _permission_docs(res):
        for sid, stmt in _allows(doc):
            wild = [a for a in as_list(stmt.get("Action")) if isinstance(a, str) and (a == "*" or a.endswith(":*"))]
            if wild:
                yield f"{where} statement {sid} allows wildcard actions {', '.join(wild)}"


@resource_policy(
    "mlops-iam-no-admin-attachments",
    types=[*ATTACHMENTS, ROLE],
    description="No role, user or group gets an administrator-level AWS managed policy.",
    severity="critical", pack="mlops-security",
    controls=("CKV_AWS_274", "FSBP IAM.1", "CIS-AWS 1.16", "SOC2 CC6.3", "PCI-DSS 7.2.1"),
    remediation="Attach a least-privilege customer-managed policy instead.",
    config={"deniedPolicies": {"type": "array", "items": {"type": "string"},
                               "default": ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"]}},
)
def no_admin_attachments(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    denied = set(config.get("deniedPolicies") or [])
    arns = as_list(known(res.get("managedPolicyArns"), "managedPolicyArns")) if res.type == ROLE \
        else [known(res.get("policyArn"), "policyArn")]
    for arn in arns:
        if isinstance(arn, str) and arn.startswith("arn:") and ":iam::aws:policy/" in arn \
                and arn.rsplit("/", 1)[-1] in denied:
            yield f"attaches {arn.rsplit('/', 1)[-1]}"


def _trust(res: Resource) -> dict[str, Any] | None:
    return json_doc(res.get("assumeRolePolicy"), "assume role policy")


@resource_policy(
    "mlops-iam-trust-no-wildcard-principal",
    types=[ROLE],
    description="Role trust policies never trust principal *.",
    severity="critical", pack="mlops-security",
    controls=("CKV_AWS_60", "CKV_AWS_61", "SOC2 CC6.1", "PCI-DSS 7.2.1"),
    remediation="Trust named accounts, roles, services or an OIDC provider, with conditions.",
)
def trust_no_wildcard(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for sid, stmt in _allows(_trust(res)):
        principal = stmt.get("Principal")
        values = [principal] if isinstance(principal, str) else \
            [v for vs in (principal or {}).values() for v in as_list(vs)]
        if "*" in values:
            yield f"trust statement {sid} trusts principal *"


def _irsa_problems(stmt: Mapping[str, Any]) -> Iterable[str]:
    conditions = stmt.get("Condition") or {}
    equals = conditions.get("StringEquals") or {}
    sub = [v for k, v in equals.items() if k.endswith(":sub")]
    aud = [v for k, v in equals.items() if k.endswith(":aud")]
    if not sub or not all(isinstance(v, str) and v.startswith("system:serviceaccount:") and "*" not in v
                          and v.count(":") == 3 for v in sub):
        yield "does not pin :sub to one service account (StringEquals system:serviceaccount:<namespace>:<name>)"
    if not aud or not all(v == "sts.amazonaws.com" for v in aud):
        yield "does not check :aud (StringEquals sts.amazonaws.com)"


@resource_policy(
    "mlops-iam-irsa-trust-scoped",
    types=[ROLE],
    description="IRSA role trust is scoped to one service account (:sub) and the STS audience (:aud).",
    severity="high", pack="mlops-security",
    controls=("CIS-EKS 4.1.5", "SOC2 CC6.1", "ISO27001 A.5.15"),
    remediation="Add Condition StringEquals {'<issuer>:sub': 'system:serviceaccount:<ns>:<sa>', "
                "'<issuer>:aud': 'sts.amazonaws.com'} to the web-identity trust statement.",
)
def irsa_scoped(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for sid, stmt in _allows(_trust(res)):
        federated = as_list((stmt.get("Principal") or {}).get("Federated")) \
            if isinstance(stmt.get("Principal"), Mapping) else []
        actions = as_list(stmt.get("Action"))
        if not any(isinstance(f, str) and "oidc-provider/" in f for f in federated) or is_unknown(actions):
            continue
        if "sts:AssumeRoleWithWebIdentity" not in actions:
            continue
        for problem in _irsa_problems(stmt):
            yield f"IRSA trust statement {sid} {problem}"
