"""IAM policies: documents parsed from JSON strings, trust policies, IRSA scoping."""

from __future__ import annotations

import json
from typing import Any

from mlops_policies.aws_iam import ROLE

from .cases import Case, check, params
from .helpers import R

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACH = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any, sid: str = "S") -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}


def irsa(conditions: dict[str, Any]) -> list[R]:
    return [R(ROLE, "role", {"assumeRolePolicy": doc({
        "Sid": "Irsa", "Effect": "Allow", "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity", "Condition": conditions})})]


SCOPED = {"StringEquals": {f"{ISSUER}:sub": "system:serviceaccount:mlflow:mlflow", f"{ISSUER}:aud": "sts.amazonaws.com"}}

CASES = [
    Case("exact", "mlops-iam-no-star-on-star",
         [R(ROLE_POLICY, "p", {"policy": doc(allow(["s3:GetObject"], "arn:aws:s3:::b/*"))})], []),
    Case("star", "mlops-iam-no-star-on-star", [R(ROLE_POLICY, "p", {"policy": doc(allow("*", "*", "Admin"))})],
         ["p: policy statement Admin allows * on *"]),
    Case("inline-on-role", "mlops-iam-no-star-on-star",
         [R(ROLE, "r", {"inlinePolicies": [{"name": "all", "policy": doc(allow(["*"], ["*"], "All"))}]})],
         ["r: inline policy all statement All allows * on *"]),
    Case("unknown-document", "mlops-iam-no-star-on-star", [R(ROLE_POLICY, "p", {"policy": "[unknown]"})], []),
    Case("explicit", "mlops-iam-no-wildcard-actions",
         [R(ROLE_POLICY, "p", {"policy": doc(allow(["kms:Decrypt"], "arn:aws:kms:us-east-1:1:key/x"))})], []),
    Case("deny-wildcard-ok", "mlops-iam-no-wildcard-actions",
         [R(ROLE_POLICY, "p", {"policy": doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})})], []),
    Case("service-wildcard", "mlops-iam-no-wildcard-actions",
         [R(ROLE_POLICY, "p", {"policy": doc(allow(["s3:*", "s3:GetObject"], "arn:aws:s3:::b", "Data"))})],
         ["p: policy statement Data allows wildcard actions s3:*"]),
    Case("least-privilege", "mlops-iam-no-admin-attachments",
         [R(ATTACH, "a", {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"})], []),
    Case("customer-policy-named-admin", "mlops-iam-no-admin-attachments",
         [R(ATTACH, "a", {"role": "r", "policyArn": "arn:aws:iam::123456789012:policy/AdministratorAccess"})], []),
    Case("admin", "mlops-iam-no-admin-attachments",
         [R(ATTACH, "a", {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})],
         ["a: attaches AdministratorAccess"]),
    Case("managed-arns-on-role", "mlops-iam-no-admin-attachments",
         [R(ROLE, "r", {"managedPolicyArns": ["arn:aws:iam::aws:policy/IAMFullAccess"]})], ["r: attaches IAMFullAccess"]),
    Case("service", "mlops-iam-trust-no-wildcard-principal", [R(ROLE, "r", {"assumeRolePolicy": doc({
        "Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"})})], []),
    Case("anyone", "mlops-iam-trust-no-wildcard-principal", [R(ROLE, "r", {"assumeRolePolicy": doc({
        "Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})})],
         ["r: trust statement Open trusts principal *"]),
    Case("scoped", "mlops-iam-irsa-trust-scoped", irsa(SCOPED), []),
    Case("non-irsa-role-ignored", "mlops-iam-irsa-trust-scoped", [R(ROLE, "r", {"assumeRolePolicy": doc({
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole"]})})], []),
    Case("no-conditions", "mlops-iam-irsa-trust-scoped", irsa({}), [
        "role: IRSA trust statement Irsa does not check :aud (StringEquals sts.amazonaws.com)",
        "role: IRSA trust statement Irsa does not pin :sub to one service account "
        "(StringEquals system:serviceaccount:<namespace>:<name>)"]),
    Case("wildcard-sub", "mlops-iam-irsa-trust-scoped", irsa({
        "StringLike": {f"{ISSUER}:sub": "system:serviceaccount:*:*"},
        "StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"}}),
         ["role: IRSA trust statement Irsa does not pin :sub to one service account "
          "(StringEquals system:serviceaccount:<namespace>:<name>)"]),
]


@params(CASES)
def test_iam(case: Case) -> None:
    check(case)
