"""SecurityBaseline: the prod plan (trail, GuardDuty, EventBridge, guards), dev with the expensive parts turned off
in config, and the config's validation messages. External Secrets and the secret scan: test_secrets_delivery.py."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mlops_infra.blocks.refs import NetworkRefs
from mlops_infra.config import ConfigError
from mlops_infra.plan import Inventory, ResourceRecord
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.security.config import SecurityBaselineConfig
from mlops_infra.security.exfiltration_guards import data_bucket_guard
from mlops_infra.security.threat_detection import finding_pattern
from tests import iam_eval
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS, PROGRAMS, planned
from tests.nonempty import each
from tests.security.conftest import EXTERNAL_SECRET, bucket, key, policy_doc, stmt

TRAIL = "aws:cloudtrail/trail:Trail"
FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


# --- audit trail ---------------------------------------------------------------------------------------------------

def test_trail_is_multi_region_validated_kms_encrypted(prod: Inventory) -> None:
    (trail,) = prod.of_type(TRAIL)
    assert trail.name == "sec-audit-trail"
    assert (trail.inputs["isMultiRegionTrail"], trail.inputs["enableLogFileValidation"],
            trail.inputs["includeGlobalServiceEvents"]) == (True, True, True)
    assert trail.property_dependencies["kmsKeyId"] == [key(prod, "sec-audit-key").urn]
    assert trail.inputs["s3BucketName"] == bucket(prod, "sec-audit-bucket").id
    assert trail.inputs["cloudWatchLogsGroupArn"].endswith(":log-group:/aws/cloudtrail/sec-audit-trail:*")


def test_trail_records_data_events_on_exactly_the_buckets_pods_reach(prod: Inventory) -> None:
    """The data buckets and the unguarded platform bucket (`shared`), not the trail's own bucket."""
    trail = prod.named("sec-audit-trail")
    management, data = trail.inputs["advancedEventSelectors"]
    assert management["fieldSelectors"] == [{"field": "eventCategory", "equals": ["Management"]}]
    recorded = [bucket(prod, n) for n in ("feature-offline", "model-artifacts", "shared")]
    assert data["fieldSelectors"] == [
        {"field": "eventCategory", "equals": ["Data"]},
        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
        {"field": "resources.ARN", "startsWiths": [f"arn:aws:s3:::{b.id}/" for b in recorded]},
    ]
    assert sorted(trail.property_dependencies["advancedEventSelectors"]) == sorted(b.urn for b in recorded)


def test_trail_bucket_is_object_locked_archived_and_only_cloudtrail_writes(prod: Inventory) -> None:
    lock = prod.named("sec-audit-bucket-object-lock")
    assert lock.inputs["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 365}}
    assert bucket(prod, "sec-audit-bucket").inputs["objectLockEnabled"] is True
    rules = {r["id"]: r for r in prod.named("sec-audit-bucket-lifecycle").inputs["rules"]}
    assert rules["archive-trail-logs"]["transitions"] == [{"days": 90, "storageClass": "GLACIER_IR"}]
    policy = prod.named("sec-audit-bucket-policy")
    bucket_arn = f"arn:aws:s3:::{bucket(prod, 'sec-audit-bucket').id}"
    trail_arn = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/sec-audit-trail"
    write = stmt(policy, "CloudTrailWrite")
    assert write["Resource"] == [f"{bucket_arn}/AWSLogs/123456789012/*"]
    assert write["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert write["Condition"]["StringEquals"] == {"aws:SourceArn": trail_arn}
    assert stmt(policy, "CloudTrailAclCheck")["Resource"] == [bucket_arn]


def test_trail_log_group_has_kms_retention_and_protection(prod: Inventory) -> None:
    group = prod.named("sec-audit-log-group")
    assert group.inputs["retentionInDays"] == 365
    assert group.property_dependencies["kmsKeyId"] == [key(prod, "sec-audit-key").urn]
    assert group.options["protect"] is True and group.options["retainOnDelete"] is True
    assert group.inputs["deletionProtectionEnabled"] is True
    deliver = stmt(prod.named("sec-audit-cloudwatch-policy"), "DeliverTrailEvents")
    assert deliver["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert deliver["Resource"] == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/cloudtrail/sec-audit-trail:log-stream:*"]


# --- threat detection ----------------------------------------------------------------------------------------------

def test_guardduty_detector_with_eks_runtime_and_s3_features(prod: Inventory) -> None:
    detector = prod.named("sec-threats-detector")
    assert detector.inputs["enable"] is True
    features = {f.inputs["name"]: f for f in prod.of_type(FEATURE)}
    assert {n: f.inputs["status"] for n, f in features.items()} == {
        "EKS_AUDIT_LOGS": "ENABLED", "RUNTIME_MONITORING": "ENABLED", "S3_DATA_EVENTS": "ENABLED",
        # CreateDetector turns on every feature it is not told about: each billed one has a flag and a status.
        "RDS_LOGIN_EVENTS": "ENABLED", "EBS_MALWARE_PROTECTION": "DISABLED", "LAMBDA_NETWORK_LOGS": "DISABLED"}
    assert features["RUNTIME_MONITORING"].inputs["additionalConfigurations"] == [
        {"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}]
    assert all(f.property_dependencies["detectorId"] == [detector.urn] for f in each(features.values()))


def test_findings_rule_targets_the_alert_topic(prod: Inventory) -> None:
    rule = prod.named("sec-threats-findings")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", 4.0]}]}}
    target = prod.named("sec-threats-findings-to-alerts")
    assert target.inputs["arn"] == "arn:aws:sns:eu-west-1:123456789012:mlops-alerts"
    assert target.property_dependencies["rule"] == [rule.urn]
    analyzer = prod.named("sec-threats-access-analyzer")
    assert analyzer.inputs["type"] == "ACCOUNT"


# --- exfiltration guards -------------------------------------------------------------------------------------------

ACCOUNT = "123456789012"
ENDPOINT = "vpce-0s3gateway000001"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/break-glass"
LAPTOP = f"arn:aws:iam::{ACCOUNT}:role/data-scientist"  # an in-account role used from outside the VPC
# What the versioned data buckets hold and who could read or destroy it: every object and version action, the
# listings, ACLs and tags (issue #20: the old guard named only Get/Put/DeleteObject and ListBucket).
OBJECT_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion",
                  "s3:PutObject", "s3:PutObjectAcl", "s3:GetObjectVersionAcl", "s3:GetObjectAttributes",
                  "s3:RestoreObject", "s3:PutObjectTagging", "s3:GetObjectVersionTagging", "s3:ReplicateObject"]
BUCKET_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:PutBucketPolicy"]


def bucket_arn(inv: Inventory, name: str) -> str:
    return f"arn:aws:s3:::{bucket(inv, name).id}"


def guard_denies(inv: Inventory, name: str, action: str, context: dict[str, Any], resource: str = "") -> bool:
    """Does the bucket policy of `name` deny the request (no identity policy can then allow it)?"""
    arn = bucket_arn(inv, name)
    target = resource or (f"{arn}/features/part-0.parquet" if action not in BUCKET_ACTIONS else arn)
    return iam_eval.denies([policy_doc(inv.named(f"{name}-policy"))], action, target, context)


@pytest.mark.parametrize("action", OBJECT_ACTIONS + BUCKET_ACTIONS)
def test_data_buckets_deny_every_s3_action_from_outside_the_endpoint(prod: Inventory, action: str) -> None:
    outside = {"aws:PrincipalArn": LAPTOP, "aws:PrincipalAccount": ACCOUNT, "aws:SecureTransport": "true"}
    for name in ("feature-offline", "model-artifacts"):
        assert guard_denies(prod, name, action, outside), (name, action)
        # The same role inside the VPC (through the gateway endpoint), and break-glass from anywhere, pass.
        assert not guard_denies(prod, name, action, {**outside, "aws:SourceVpce": ENDPOINT}), (name, action)
        assert not guard_denies(prod, name, action, {**outside, "aws:PrincipalArn": BREAK_GLASS}), (name, action)
    assert not guard_denies(prod, "shared", action, outside)  # not a data bucket: no guard


@pytest.fixture(scope="module")
def guarded() -> Inventory:
    return planned("test", PROGRAMS / "data_guard")


def test_athena_reads_the_offline_store_through_called_via_and_nothing_else_does(guarded: Inventory) -> None:
    """Athena reads and writes S3 with the caller's credentials from its own network: no aws:SourceVpce, but
    aws:CalledVia = [athena]. Only that service path is exempt; the same caller directly, or via another service,
    is still denied."""
    analyst = {"aws:PrincipalArn": LAPTOP, "aws:PrincipalAccount": ACCOUNT, "aws:SecureTransport": "true"}
    via_athena = {**analyst, "aws:CalledVia": ["athena.amazonaws.com"], "aws:ViaAWSService": "true"}
    for action in ("s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:GetBucketLocation"):
        assert not guard_denies(guarded, "ath-offline", action, via_athena), action
        assert guard_denies(guarded, "ath-offline", action, analyst), action
        other = {**via_athena, "aws:CalledVia": ["cloudformation.amazonaws.com"]}
        assert guard_denies(guarded, "ath-offline", action, other), action
    # The SageMaker store's bucket has no Athena path: the exemption follows the engine.
    assert guard_denies(guarded, "sm-offline", "s3:GetObject", via_athena)


def test_sagemaker_offline_role_writes_the_offline_store_and_nothing_else_is_exempt(guarded: Inventory) -> None:
    """SageMaker Feature Store writes the offline store as the role in the feature group's RoleArn: the request's
    principal is that role, from SageMaker's network (no aws:SourceVpce, and not a forward access session, so
    aws:CalledVia/aws:ViaAWSService do not apply). The guard exempts exactly that role's ARN."""
    role = guarded.named("sm-groups-offline-role")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role.id}"  # the plan engine names roles by id, as AWS does
    sagemaker = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": ACCOUNT, "aws:SecureTransport": "true"}
    arn = bucket_arn(guarded, "sm-offline")
    for action in ("s3:PutObject", "s3:GetObject", "s3:PutObjectAcl"):
        assert not guard_denies(guarded, "sm-offline", action, sagemaker, f"{arn}/sagemaker/drivers/data.parquet")
        assert guard_denies(guarded, "sm-offline", action, {**sagemaker, "aws:PrincipalArn": LAPTOP},
                            f"{arn}/sagemaker/drivers/data.parquet")
    assert not guard_denies(guarded, "sm-offline", "s3:GetBucketAcl", sagemaker)
    # The exemption is the role created in the same deploy, so the policy waits for it.
    assert role.urn in guarded.named("sm-offline-policy").property_dependencies["policy"]
    # That role's own policy still only reaches the bucket's sagemaker/ prefix (the guard is not a grant).
    assert iam_eval.allows([guarded.named("sm-groups-offline-policy").inputs["policy"]], "s3:PutObject",
                           f"{arn}/sagemaker/x")
    assert not iam_eval.allows([guarded.named("sm-groups-offline-policy").inputs["policy"]], "s3:PutObject",
                               f"{arn}/offline/x")


def test_bucket_grants_are_idempotent_per_role_and_verb(guarded: Inventory) -> None:
    """The program grants read to the same role twice (`again is first` is asserted in the program); the real
    engine would reject a second attachment under the same URN. Read, write and a prefixed read stay distinct:
    one managed policy each (`shared-<grant>-policy`), attached to the role, and no inline copy beside them."""
    attached = sorted(r.name for r in guarded.of_type(iam_eval.ATTACHMENT) if r.name.startswith("shared-"))
    assert attached == ["shared-read-models-trainer", "shared-read-trainer", "shared-write-trainer"]
    assert not [r for r in guarded.of_type(iam_eval.ROLE_POLICY) if r.name.startswith("shared-")]
    trainer = guarded.named("trainer")
    read_policy = guarded.named("shared-read-policy")
    read = guarded.named("shared-read-trainer")
    assert read.inputs["role"] == trainer.id and read.inputs["policyArn"] == read_policy.id
    docs = [read_policy.inputs["policy"]]
    arn = bucket_arn(guarded, "shared")
    assert iam_eval.allows(docs, "s3:GetObject", f"{arn}/any/key")
    data_key = key(guarded, "key")  # the bucket's key is part of the grant (and the policy waits for it)
    assert data_key.urn in read_policy.property_dependencies["policy"]
    assert iam_eval.allows(docs, "kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{data_key.id}")
    assert not iam_eval.allows(docs, "s3:PutObject", f"{arn}/any/key")
    prefixed = [guarded.named("shared-read-models-policy").inputs["policy"]]
    assert iam_eval.allows(prefixed, "s3:GetObject", f"{arn}/models/m.pt")
    assert not iam_eval.allows(prefixed, "s3:GetObject", f"{arn}/other/m.pt")
    # Everything the trainer holds, as IAM evaluates it: these three and a consumer's two (tests/test_grants.py).
    held = iam_eval.role_documents(guarded, trainer)
    assert len(held) == 5 and iam_eval.allows(held, "s3:PutObject", f"{arn}/any/key")


def test_s3_endpoint_policy_allows_only_platform_and_image_layer_buckets(prod: Inventory) -> None:
    policy = prod.named("sec-guards-s3-endpoint-policy")
    assert policy.inputs["vpcEndpointId"] == ENDPOINT
    docs = [policy_doc(policy)]
    node = {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/node", "aws:PrincipalAccount": ACCOUNT}
    foreign = {"aws:PrincipalArn": "arn:aws:iam::999999999999:role/attacker", "aws:PrincipalAccount": "999999999999"}
    for name in ("feature-offline", "model-artifacts", "shared"):
        arn = bucket_arn(prod, name)
        assert iam_eval.resource_allows(docs, "s3:PutObject", f"{arn}/k", node)
        assert iam_eval.resource_allows(docs, "s3:ListBucket", arn, node)
        assert not iam_eval.resource_allows(docs, "s3:PutObject", f"{arn}/k", foreign)
    # Writing to any bucket that is not the platform's (e.g. an attacker's, or a registry's) is refused.
    for target in ("arn:aws:s3:::attacker-drop/k", "arn:aws:s3:::quayio-production-s3/k"):
        assert not iam_eval.resource_allows(docs, "s3:PutObject", target, node)
        assert not iam_eval.resource_allows(docs, "s3:PutObject", target, foreign)
    assert not iam_eval.resource_allows(docs, "s3:GetObject", "arn:aws:s3:::attacker-drop/k", node)
    assert all(s["Effect"] == "Allow" and "s3:*" not in s["Action"] for s in each(docs[0]["Statement"]))


def egress_policies(inv: Inventory) -> dict[tuple[str, str], ResourceRecord]:
    return {(p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): p for p in inv.of_type(NETWORK_POLICY)}


def test_ml_namespaces_deny_egress_by_default(prod: Inventory) -> None:
    policies = egress_policies(prod)
    assert sorted(policies) == [("ranking", "allow-platform-egress"), ("ranking", "default-deny-egress"),
                                ("research", "allow-platform-egress"), ("research", "default-deny-egress")]
    assert policies[("research", "default-deny-egress")].inputs["spec"] == {"podSelector": {}, "policyTypes": ["Egress"]}


def test_data_bucket_guard_is_none_when_off_and_refuses_a_vpc_without_endpoint() -> None:
    network = NetworkRefs(vpc_id="vpc-1", vpc_cidr="10.0.0.0/16", private_subnet_ids=["subnet-1"])
    assert data_bucket_guard(SecurityBaselineConfig(), network) is None
    assert data_bucket_guard(SecurityBaselineConfig(exfiltration_guards=True, enabled=False), network) is None
    with pytest.raises(ValueError, match=r"needs the VPC's S3 gateway endpoint"):
        data_bucket_guard(SecurityBaselineConfig(exfiltration_guards=True), network)


# --- dev: the expensive parts off, explicitly -----------------------------------------------------------------------

def test_dev_turns_the_expensive_parts_off_in_config(dev: Inventory) -> None:
    types = {r.type for r in dev}
    for absent in (TRAIL, "aws:guardduty/detector:Detector", FEATURE, "aws:accessanalyzer/analyzer:Analyzer",
                   "aws:cloudwatch/eventRule:EventRule", "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy", NETWORK_POLICY):
        assert absent not in types
    assert {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in dev.of_type(EXTERNAL_SECRET)} == {
        ("research", "comet")}
    assert all(not r.options["protect"] for r in each(dev) if r.custom)
    assert "DenyOutsideVpcEndpoint" not in dev.named("feature-offline-policy").inputs["policy"]


def test_dev_pod_identity_store_has_no_jwt_auth(dev: Inventory) -> None:
    store = dev.named("sec-secrets-secrets-manager")
    assert store.inputs["spec"]["provider"] == {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}
    assert dev.named("sec-secrets-identity-pod-identity").inputs["serviceAccount"] == "external-secrets"


def test_finding_pattern_uses_the_configured_severity() -> None:
    assert json.loads(finding_pattern(7))["detail"] == {"severity": [{"numeric": [">=", 7]}]}


# --- config ----------------------------------------------------------------------------------------------------------

BASE: dict[str, Any] = {"environment": "prod", "tags": {"owner": "o", "costCenter": "c"},
                        "cluster": {"teams": [{"name": "research"}], **PROD_API_ACCESS},
                        "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
                        "securityBaseline": PROD_GUARDS}


def problems(section: dict[str, Any]) -> list[str]:
    raw = copy.deepcopy(BASE)
    guards_on = section.get("exfiltrationGuards", True)  # the prod profile turns them on
    raw["securityBaseline"] = {**(PROD_GUARDS if guards_on else {}), **section}
    with pytest.raises(ConfigError) as info:
        load_platform_config(raw)
    return info.value.problems


@pytest.mark.parametrize(("section", "expected"), [
    ({"objectLockDays": 0}, ["securityBaseline.objectLockDays: must be between 1 and 3650 (got 0)"]),
    ({"objectLockDays": 30, "cloudtrail": False},
     ["securityBaseline.objectLockDays: set, but cloudtrail is false (Object Lock applies to the trail bucket)"]),
    ({"integrationSecrets": [{"name": "wandb", "configKey": "a", "namespaces": ["research"]},
                             {"name": "wandb", "configKey": "b", "namespaces": ["research"]}]},
     ["securityBaseline.integrationSecrets[1].name: duplicate secret name 'wandb'"]),
    ({"externalSecrets": False, "integrationSecrets": [{"name": "w", "configKey": "a", "namespaces": ["research"]}]},
     ["securityBaseline.integrationSecrets: set, but externalSecrets is false (nothing would sync them)"]),
    ({"exfiltrationGuards": False, "breakGlassRoleArns": ["arn:aws:iam::123456789012:role/bg"],
      "s3EgressCidrs": ["52.218.0.0/17"]},
     ["securityBaseline.breakGlassRoleArns: set, but exfiltrationGuards is false",
      "securityBaseline.s3EgressCidrs: set, but exfiltrationGuards is false"]),
    ({"deployerRoleArns": []}, [
        "securityBaseline.deployerRoleArns: required when exfiltrationGuards is true and cluster.adminRoleArns is "
        "empty: the role that runs `pulumi up` must be exempt from the data buckets' VPC-endpoint condition, or it "
        "cannot read or change them"]),
    ({"exfiltrationGuards": False, "settingsReaders": ["arn:aws:iam::123456789012:role/recorder"]},
     ["securityBaseline.settingsReaders: set, but exfiltrationGuards is false"]),
    ({"exfiltrationGuards": False, "deployerRoleArns": ["arn:aws:iam::123456789012:role/deployer"]},
     ["securityBaseline.deployerRoleArns: set, but exfiltrationGuards is false"]),
    ({"trailLogRetentionDays": 42}, [
        "securityBaseline.trailLogRetentionDays: must be a CloudWatch Logs retention value, one of 1, 3, 5, 7, 14, 30, "
        "60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"]),
    ({"guarddutyAlertMinSeverity": 11}, ["securityBaseline.guarddutyAlertMinSeverity: must be <= 10 (got 11)"]),
    ({"integrationSecrets": [{"name": "wandb", "configKey": "a", "namespaces": ["nowhere"]}]},
     ["securityBaseline.integrationSecrets[0].namespaces[0]: unknown namespace 'nowhere' "
      "(known: feast, lakefs, mlflow, monitoring, qdrant, research)"]),
])
def test_config_messages(section: dict[str, Any], expected: list[str]) -> None:
    assert problems(section) == expected


def test_defaults_keep_every_part_on() -> None:
    cfg = SecurityBaselineConfig()
    assert (cfg.cloudtrail, cfg.trail_data_events, cfg.guardduty, cfg.guardduty_eks_audit_logs,
            cfg.guardduty_runtime_monitoring, cfg.guardduty_s3_protection, cfg.access_analyzer,
            cfg.external_secrets) == (True,) * 8
    assert cfg.external_secrets_version == "2.11.0"
