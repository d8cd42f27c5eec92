"""docs/deployer-policy.json: the deployer role's policy covers the create call (and the Service Authorization
Reference's dependent actions) of every AWS resource type any plan creates: dev, staging, prod, the team workspace
and every variant in tests/integration/plans.py, evaluated with the repository's IAM evaluator; it covers what
`preflight` and `audit` call; IAM is scoped to the planned names; the audit trail and audit bucket are protected by
explicit denies; every action named is real; and the file is what `python -m mlops_infra.deployer` generates."""

from __future__ import annotations

import ast
import fnmatch
import json
from importlib import resources

import pytest

from mlops_infra import deployer, docs_figures
from tests.conftest import ROOT, planned
from tests.iam_eval import allows
from tests.integration.plans import LABELS, plan
from tests.nonempty import each

POLICY = json.loads((ROOT / "docs" / "deployer-policy.json").read_text(encoding="utf-8"))
KNOWN = json.loads(resources.files("mlops_policies").joinpath("data/iam_actions.json").read_text("utf-8"))["services"]
LOWERED = {p: {a.lower() for a in actions} for p, actions in KNOWN.items()}
ACCOUNT = "123456789012"
IAM_TYPES = {"aws:iam/role:Role": "role", "aws:iam/policy:Policy": "policy", "aws:iam/rolePolicy:RolePolicy": "role",
             "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "role"}


@pytest.fixture(autouse=True)
def _shared_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs_figures, "planned", planned)


def _aws(label: str) -> list[tuple[str, str]]:
    """(type, name) per AWS resource; an inline policy or attachment is named by the role it writes to."""
    records = plan(label).resources
    by_urn = {r.urn: r for r in records}
    out = []
    for r in records:
        if not (r.custom and r.type.startswith("aws:")):
            continue
        if r.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
            role = r.inputs.get("role")
            owners = [by_urn[u].name for u in r.property_dependencies.get("role", []) if u in by_urn]
            name = owners[0] if owners else role if isinstance(role, str) else ""
            assert name, (label, r.name, "no role")
            out.append((r.type, name))
        else:
            out.append((r.type, r.name))
    return out


def _resource(rtype: str, name: str, action: str) -> str:
    """The ARN a create call is authorized against: IAM roles and policies by their (auto-)name, the rest "*"."""
    if action.startswith("iam:") and rtype in IAM_TYPES:
        return f"arn:aws:iam::{ACCOUNT}:{IAM_TYPES[rtype]}/{name}-abc1234"  # Pulumi auto-names append a suffix
    if action == "iam:CreateServiceLinkedRole":
        return f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
    if action == "iam:CreateOpenIDConnectProvider":
        return f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
    return "*"


@pytest.mark.parametrize("label", LABELS)
def test_every_planned_create_call_and_its_dependent_actions_are_allowed(label: str) -> None:
    resources_ = _aws(label)
    assert resources_, label
    missing = sorted({t for t, _ in resources_ if t not in deployer.CREATE_ACTIONS})
    assert missing == [], "add the create call of these types to mlops_infra/deployer.py CREATE_ACTIONS"
    for rtype, name in resources_:
        for action in deployer.CREATE_ACTIONS[rtype]:
            assert allows([POLICY], action, _resource(rtype, name, action)), (label, rtype, name, action)
            for dep in deployer.DEPENDENT_ACTIONS.get(action, ()):
                if dep == "iam:PassRole":
                    continue  # judged per role and service below
                resource = _resource(rtype, name, dep) if dep != "iam:CreateServiceLinkedRole" else \
                    _resource("", "", dep)
                assert allows([POLICY], dep, resource), (label, action, dep)


def _trusted_services(doc: object) -> set[str]:
    parsed = json.loads(doc) if isinstance(doc, str) and doc.startswith("{") else doc
    out: set[str] = set()
    for stmt in parsed.get("Statement", []) if isinstance(parsed, dict) else []:
        principal = stmt.get("Principal")
        service = principal.get("Service", []) if isinstance(principal, dict) else []
        out |= set(service if isinstance(service, list) else [service])
    return out


@pytest.mark.parametrize("label", LABELS)
def test_every_planned_role_can_be_passed_to_the_services_it_trusts_and_no_other(label: str) -> None:
    roles = [r for r in plan(label).resources if r.custom and r.type == "aws:iam/role:Role"]
    assert roles, label
    checked = 0
    for role in roles:
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role.name}-abc1234"
        trusted = _trusted_services(role.inputs.get("assumeRolePolicy"))
        for service in trusted:
            assert allows([POLICY], "iam:PassRole", arn, {"iam:PassedToService": service}), (label, role.name, service)
            checked += 1
        assert not allows([POLICY], "iam:PassRole", arn, {"iam:PassedToService": "lambda.amazonaws.com"})
        assert not allows([POLICY], "iam:PassRole", arn)
    if label in ("dev", "staging", "prod"):
        assert checked, "the environments pass their cluster, node and flow-log roles"


def test_the_library_constructs_no_aws_type_without_a_create_action() -> None:
    """Documented options no plan enables (SageMaker serving's endpoints and autoscaling) are covered too: every
    `aws.<module>.<Class>(` the library constructs has an entry."""
    found: set[str] = set()
    for path in (ROOT / "mlops_infra").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            f = node.func if isinstance(node, ast.Call) else None
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) \
                    and isinstance(f.value.value, ast.Name) and f.value.value.id == "aws" and f.attr[:1].isupper():
                found.add(f"aws:{f.value.attr}/{f.attr[0].lower()}{f.attr[1:]}:{f.attr}")
    assert "aws:appautoscaling/target:Target" in found and "aws:sqs/queue:Queue" in found
    assert sorted(found - set(deployer.CREATE_ACTIONS)) == []
    assert sorted(set(deployer.CREATE_ACTIONS) - found) == [], "stale CREATE_ACTIONS entries"


def test_interface_endpoints_with_private_dns_may_associate_the_hosted_zone() -> None:
    assert "route53:AssociateVPCWithHostedZone" in deployer.DEPENDENT_ACTIONS["ec2:CreateVpcEndpoint"]
    assert allows([POLICY], "route53:AssociateVPCWithHostedZone", "*")
    assert not allows([POLICY], "route53:ChangeResourceRecordSets", "*")


def _client_calls(module: str) -> set[tuple[str, str]]:
    """(client property on Aws, boto3 operation) of every `aws.<client>.<op>(...)`, `get_paginator("<op>")` and
    `x = aws.<client>` alias call in a module."""
    tree = ast.parse((ROOT / "mlops_infra" / "aws" / module).read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute) \
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "aws":
            for target in node.targets:
                for name in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if isinstance(name, ast.Name):
                        aliases[name.id] = node.value.attr
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):  # s3, checks = aws.s3, []
            for name, value in zip(getattr(node.targets[0], "elts", []), node.value.elts, strict=False):
                if isinstance(name, ast.Name) and isinstance(value, ast.Attribute) \
                        and isinstance(value.value, ast.Name) and value.value.id == "aws":
                    aliases[name.id] = value.attr
    calls: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner, op = node.func.value, node.func.attr
        client = owner.attr if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) \
            and owner.value.id == "aws" else aliases.get(owner.id) if isinstance(owner, ast.Name) else None
        if client is None or client in ("session", "config"):
            continue
        if op == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            op = str(node.args[0].value)
        calls.add((client, op))
    return calls


# Aws client property -> IAM prefix; boto3 operations whose IAM action is not the CamelCase of the operation name
# (S3's Service Authorization Reference: GetBucketEncryption is authorized by s3:GetEncryptionConfiguration,
# GetPublicAccessBlock by s3:GetBucketPublicAccessBlock).
PREFIX = {"ec2": "ec2", "eks": "eks", "rds": "rds", "dynamodb": "dynamodb", "s3": "s3", "kms": "kms", "sts": "sts",
          "service_quotas": "servicequotas", "tagging": "tag", "guardduty": "guardduty",
          "accessanalyzer": "access-analyzer"}
RENAMED = {"s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
           "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
           "servicequotas:GetAwsDefaultServiceQuota": "servicequotas:GetAWSDefaultServiceQuota"}


@pytest.mark.parametrize("module", ["preflight.py", "preflight_addons.py", "preflight_singletons.py", "audit.py"])
def test_preflight_and_audit_calls_are_allowed(module: str) -> None:
    calls = _client_calls(module)
    assert calls, module
    for client, op in each(sorted(calls)):
        action = f"{PREFIX[client]}:{''.join(w.capitalize() for w in op.split('_'))}"
        action = RENAMED.get(action, action)
        assert action.split(":", 1)[1].lower() in LOWERED[action.split(":", 1)[0]], action
        assert allows([POLICY], action, "*"), (module, client, op, action)


def test_the_quota_and_tagging_reads_the_deploying_guide_needs_are_among_the_calls() -> None:
    calls = _client_calls("preflight.py") | _client_calls("audit.py")
    assert ("service_quotas", "get_service_quota") in calls and ("tagging", "get_resources") in calls


def test_iam_is_scoped_to_the_planned_names() -> None:
    other = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"):
        assert not allows([POLICY], action, other), action
        assert allows([POLICY], action, f"arn:aws:iam::{ACCOUNT}:role/mlops-prod-eks-cluster-abc1234"), action
    assert not allows([POLICY], "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/mlops-admin")
    assert not allows([POLICY], "iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/someone")
    assert not allows([POLICY], "iam:PassRole", other, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert allows([POLICY], "iam:GetRole", other)
    assert not any(s["Effect"] == "Allow" and "iam:*" in s["Action"] for s in POLICY["Statement"])


@pytest.mark.parametrize("action", deployer.DENIED)
def test_the_deployer_cannot_silence_the_audit_trail(action: str) -> None:
    assert allows([{"Statement": [s for s in POLICY["Statement"] if s["Effect"] == "Allow"]}], action, "*"), \
        "the Allow side grants it (the service's `*`): the Deny is what stops it"
    assert not allows([POLICY], action, "*")
    assert not allows([POLICY], action, f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/mlops-prod-security-audit")


def test_the_deployer_cannot_bypass_the_audit_bucket_object_lock() -> None:
    buckets = [r.name for r in planned("prod").resources if r.type == "aws:s3/bucket:Bucket"
               and r.inputs.get("objectLockEnabled")]
    assert buckets, "prod's audit bucket has Object Lock"
    for name in buckets:
        obj = f"arn:aws:s3:::{name}-abc1234/AWSLogs/{ACCOUNT}/CloudTrail/x.json.gz"
        assert not allows([POLICY], "s3:BypassGovernanceRetention", obj), name
        assert allows([POLICY], "s3:GetObject", obj)
    assert allows([POLICY], "s3:BypassGovernanceRetention", "arn:aws:s3:::mlops-prod-registry-artifacts-abc1234/x")


def test_every_action_named_is_a_real_iam_action() -> None:
    named = {a for acts in deployer.CREATE_ACTIONS.values() for a in acts} | set(deployer.PROVIDER_ACTIONS) \
        | {a for acts in deployer.DEPENDENT_ACTIONS.values() for a in acts} | set(deployer.READ_ACTIONS) \
        | set(deployer.DENIED)
    assert named
    for action in named:
        prefix, name = action.split(":", 1)
        assert name.lower() in LOWERED.get(prefix, set()), action
    for pattern in each(deployer.IAM_WRITE):
        assert fnmatch.filter(LOWERED["iam"], pattern.split(":", 1)[1].lower()), pattern


def test_the_policy_grants_only_services_the_library_uses() -> None:
    granted = {a.split(":", 1)[0] for s in POLICY["Statement"] if s["Sid"] == "PlatformServices" for a in s["Action"]}
    assert granted == set(deployer.services(deployer.CREATE_ACTIONS)) - {"iam"}
    assert not allows([POLICY], "organizations:LeaveOrganization", "*")
    assert not allows([POLICY], "lambda:CreateFunction", "*")


def test_the_shipped_file_is_what_the_generator_writes() -> None:
    assert deployer.deployer_policy(deployer.CREATE_ACTIONS) == POLICY, \
        "run: python -m mlops_infra.deployer --write docs/deployer-policy.json"
