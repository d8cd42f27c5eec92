"""Endpoint policies of the private cluster's interface endpoints: only this account's principals pass.

An interface endpoint's default policy allows every principal and every resource (PrivateLink guide, "Control
access to VPC endpoints using endpoint policies"), so a pod holding another account's credentials could write to
that account's ECR repositories or log groups through the endpoint. Each endpoint here gets a policy that admits
requests signed by this account's principals (`aws:PrincipalAccount`, a global key present in every signed
request; IAM user guide, "AWS global condition context keys").

Why `aws:PrincipalAccount` and not `aws:ResourceAccount` for every service:
- ECR (`ecr.api`, `ecr.dkr`): nodes pull the EKS add-ons' images from AWS-owned registries (account 602401143452
  and its regional siblings; EKS user guide, "View Amazon container image registries for Amazon EKS add-ons"), so a
  resource perimeter on this account would break node bootstrap. The AWS data-perimeter examples
  (aws-samples/data-perimeter-policy-examples, vpc_endpoint_policies/ecr.api_endpoint_policy.json) add those
  accounts explicitly for the same reason.
- EC2, ELB, Auto Scaling, Logs: their `Describe*` calls name no resource (`Resource: *` in the Service Authorization
  Reference), which a resource-account condition does not fit; the identity perimeter covers the stated threat
  (foreign credentials) for every call.
- STS: `AssumeRoleWithWebIdentity` (IRSA) is not signed by an AWS principal, so `aws:PrincipalAccount` is absent
  from its context. It is admitted only for roles of this account (`aws:ResourceAccount`). Calls by this account's
  principals are bounded the same way where they name a role (`sts:AssumeRole`: the role's account is
  `aws:ResourceAccount`); calls naming no resource (`GetCallerIdentity`) carry no such key, hence `IfExists`. This
  is the account-level form of the data-perimeter examples' default endpoint policy
  (aws-samples/data-perimeter-policy-examples vpc_endpoint_policies/default_endpoint_policy.json, first statement:
  `aws:PrincipalOrgID` with `aws:ResourceOrgID`); that repository's main tree has no STS-specific file.
"""

from __future__ import annotations

import json

from ..blocks import iam

WEB_IDENTITY_ACTIONS = ["sts:AssumeRoleWithWebIdentity"]


def interface_endpoint_statements(service: str, account_id: str) -> list[iam.Statement]:
    """The statements of `service`'s endpoint policy (an endpoint policy is a boundary, not a grant: the service's
    actions as one wildcard are the norm there) (`service` as in PRIVATE_CLUSTER_ENDPOINTS, e.g. `ecr.dkr`)."""
    prefix = service.split(".", 1)[0]  # the IAM service prefix: ecr, sts, ec2, logs, elasticloadbalancing, ...
    conditions: dict[str, dict[str, str]] = {"StringEquals": {"aws:PrincipalAccount": account_id}}
    if service == "sts":  # no role of another account through this endpoint (a role-chaining exfiltration path)
        conditions["StringEqualsIfExists"] = {"aws:ResourceAccount": account_id}
    stmts = [iam.statement("OwnAccountPrincipals", [f"{prefix}:*"], ["*"], principals={"AWS": "*"},
                           conditions=conditions)]
    if service == "sts":
        # Principal "*": the web-identity caller is no AWS principal (the action and the role's account bound it).
        stmt = iam.statement("WebIdentityToOwnAccountRoles", WEB_IDENTITY_ACTIONS, ["*"],
                             conditions={"StringEquals": {"aws:ResourceAccount": account_id}})
        stmts.append({**stmt, "Principal": "*"})
    return stmts


def gateway_endpoint_policy_dynamodb(account_id: str) -> str:
    """The DynamoDB gateway endpoint's policy: this account's principals on this account's tables only (a
    gateway endpoint's default policy is full access; Feast's online store reads and writes only the platform's
    tables, so both perimeters fit: `aws:PrincipalAccount` and `aws:ResourceAccount`, the account-level form of
    aws-samples/data-perimeter-policy-examples vpc_endpoint_policies/default_endpoint_policy.json's first statement,
    which pairs `aws:PrincipalOrgID` with `aws:ResourceOrgID`)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [iam.statement(
        "OwnAccountTables", ["dynamodb:*"], ["*"], principals={"AWS": "*"},
        conditions={"StringEquals": {"aws:PrincipalAccount": account_id, "aws:ResourceAccount": account_id}})]})


def interface_endpoint_policy(service: str, account_id: str) -> str:
    """`service`'s endpoint policy document (JSON)."""
    return json.dumps({"Version": "2012-10-17", "Statement": interface_endpoint_statements(service, account_id)})
