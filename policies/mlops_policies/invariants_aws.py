"""AWS-side invariants: alarm topics someone reads (the log-group key rule moved to the kms-users family), VPC-endpoint
guards that cover object versions, and databases whose subnets and security groups share one VPC. Relations are
followed through property dependencies (which resource an input came from), then through literal ARNs/ids."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from .core import (
    NotApplicable,
    Resource,
    Stack,
    as_list,
    env_applies,
    json_doc,
    stack_policy,
    statements,
)
from .invariants_cluster import PACK
from .invariants_index import RELEASE, Index, index, meta, names, release_namespace, release_values, walk

TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"


def _from(idx: Index, res: Resource, props: Iterable[str], target_type: str) -> list[Resource]:
    found = []
    for prop in props:
        for urn in res.property_dependencies.get(prop, ()):
            target = idx.get(urn)
            if target is not None and target.type == target_type:
                found.append(target)
    return found


def alarm_senders(idx: Index) -> dict[str, list[Resource]]:
    """Topic URN -> the alarms, EventBridge targets and Alertmanager releases that publish to it."""
    senders: dict[str, list[Resource]] = {}
    for alarm in idx.of_type(ALARM, COMPOSITE_ALARM):
        for topic in _from(idx, alarm, ("alarmActions", "okActions", "insufficientDataActions"), TOPIC):
            if alarm not in senders.setdefault(topic.urn, []):
                senders[topic.urn].append(alarm)
    for target in idx.of_type(EVENT_TARGET):
        for topic in _from(idx, target, ("arn",), TOPIC):
            senders.setdefault(topic.urn, []).append(target)
    config_secrets = set()
    for release in idx.of_type(RELEASE):
        values = release_values(release)
        config_secrets |= {(release_namespace(release), str(v)) for _, k, v in walk(values) if k == "configSecret"}
        if not any(key == "sns_configs" for _, key, _ in walk(values)):
            continue  # Alertmanager routes to SNS through receivers[].sns_configs[].topic_arn
        for topic in _from(idx, release, ("values",), TOPIC):
            senders.setdefault(topic.urn, []).append(release)
    # kube-prometheus-stack alertmanager.alertmanagerSpec.configSecret: the Alertmanager config lives in a Secret
    # (its content is a Pulumi secret); a topic ARN flowing into it makes Alertmanager a sender.
    for secret in idx.of_type("kubernetes:core/v1:Secret"):
        if meta(secret) in config_secrets:
            for topic in _from(idx, secret, ("stringData", "data"), TOPIC):
                senders.setdefault(topic.urn, []).append(secret)
    return senders


@stack_policy(
    "mlops-inv-alarm-topic-subscribed",
    description="In prod, every SNS topic that CloudWatch alarms, EventBridge rules or Alertmanager send to has at "
                "least one subscription; otherwise alerts reach nobody.",
    severity="high", pack=PACK,
    controls=("SOC2 CC7.3", "ISO27001 A.5.25", "FSBP CloudWatch.15"),
    remediation="Subscribe an on-call endpoint (monitoring.receivers: email or https from config) to the topic.",
    config={"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"],
                             "description": "Environments the rule applies in."}},
)
def alarm_topic_subscribed(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    env_applies(config)
    idx = index(stack)
    subscribed = {u for sub in idx.of_type(SUBSCRIPTION) for u in sub.property_dependencies.get("topic", ())}
    subscribed |= {str(sub.get("topic")) for sub in idx.of_type(SUBSCRIPTION)}
    for urn, senders in sorted(alarm_senders(idx).items()):
        topic = idx.get(urn)
        if topic is None or urn in subscribed or str(topic.get("arn")) in subscribed:
            continue
        yield topic, (f"SNS topic receives from {len(senders)} senders ({names(senders)}) but has no "
                      "subscription: alerts reach nobody")


# --- log group keys ----------------------------------------------------------------------------------------------

LOGS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")


def _region(log_group: Resource, key: Resource) -> str | None:
    for value in (log_group.get("region"), key.get("region"), key.get("arn"), log_group.get("kmsKeyId")):
        if isinstance(value, str) and value.startswith("arn:"):
            return value.split(":")[3] or None
        if isinstance(value, str) and value:
            return value
    region = (log_group.provider_props or {}).get("region")
    return region if isinstance(region, str) else None


def _grants_logs(statement: Mapping[str, Any], region: str | None, group_name: str) -> bool:
    principals = as_list((statement.get("Principal") or {}).get("Service")) if isinstance(
        statement.get("Principal"), Mapping) else []
    wanted = f"logs.{region}.amazonaws.com" if region else None
    if not any(p == wanted or (wanted is None and str(p).startswith("logs.")) for p in principals):
        return False
    actions = [str(a) for a in as_list(statement.get("Action"))]
    if not all(any(fnmatch.fnmatchcase(need.lower(), a.lower()) for a in actions) for need in LOGS_ACTIONS):
        return False
    for op, block in (statement.get("Condition") or {}).items():
        for key, values in (block or {}).items():
            context = key.lower() == "kms:encryptioncontext:aws:logs:arn" and op.startswith(("Arn", "String"))
            if context and not any(_arn_matches(str(v), region, group_name) for v in as_list(values)):
                return False
    return True


def _arn_matches(pattern: str, region: str | None, group_name: str) -> bool:
    """Does the condition's ARN pattern match the log group's ARN (account taken from the pattern)?"""
    parts = pattern.split(":")
    if len(parts) < 6:
        return False
    arn = f"arn:{parts[1]}:logs:{region or parts[3]}:{parts[4]}:log-group:{group_name}"
    return fnmatch.fnmatchcase(arn, pattern) or fnmatch.fnmatchcase(arn + ":*", pattern)


# `mlops-inv-log-group-key-grants-logs` is folded into the kms-users family (invariants_kms.py), which
# uses the two helpers above.


# --- VPC-endpoint denies ---------------------------------------------------------------------------------------

OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetObjectAttributes",
                  "s3:RestoreObject")
VERSION_ACTIONS = ("s3:GetObjectVersion", "s3:DeleteObjectVersion", "s3:ListBucketVersions",
                   "s3:GetObjectVersionAttributes")


def _vpce_denies(policy: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    found = []
    for st in statements(policy):
        keys = {k.lower() for block in (st.get("Condition") or {}).values() if isinstance(block, Mapping)
                for k in block}
        if st.get("Effect") == "Deny" and keys & {"aws:sourcevpce", "aws:sourcevpc"}:
            found.append(st)
    return found


def uncovered(denies: list[dict[str, Any]], actions: Iterable[str]) -> list[str]:
    patterns = [str(a).lower() for st in denies for a in as_list(st.get("Action"))]
    if any("NotAction" in st for st in denies):
        return []  # a NotAction deny covers everything it does not list: out of this rule's reach
    return [a for a in actions if not any(fnmatch.fnmatchcase(a.lower(), p) for p in patterns)]


@stack_policy(
    "mlops-inv-vpce-deny-covers-versions",
    description="A bucket policy that denies access from outside a VPC endpoint covers every object action, and "
                "the version-level ones (GetObjectVersion, DeleteObjectVersion, ...) when the bucket is versioned.",
    severity="high", pack=PACK, strictness="always",
    controls=("FSBP S3.5", "SOC2 CC6.6", "ISO27001 A.8.12"),
    remediation="Deny s3:* outside the endpoint (with the break-glass and service exemptions) instead of a list of "
                "actions.",
)
def vpce_deny_versions(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    versioned = {u for v in idx.of_type(VERSIONING) if v.get("versioningConfiguration", "status") == "Enabled"
                 for u in v.property_dependencies.get("bucket", ())}
    for policy in idx.of_type(BUCKET_POLICY):
        try:
            denies = _vpce_denies(json_doc(policy.get("policy"), "bucket policy"))
        except NotApplicable:
            continue
        if not denies:
            continue
        buckets = policy.property_dependencies.get("bucket", ())
        is_versioned = any(u in versioned for u in buckets)
        wanted = OBJECT_ACTIONS + (VERSION_ACTIONS if is_versioned else ())
        missing = uncovered(denies, wanted)
        if missing:
            state = "versioned " if is_versioned else ""
            yield policy, (f"the VPC-endpoint Deny leaves {', '.join(missing)} open from outside the endpoint on "
                           f"{state}bucket {names(b for b in map(idx.get, buckets) if b is not None) or '(unknown)'}")


# --- RDS network placement -----------------------------------------------------------------------------------------

def _vpcs(idx: Index, resources: Iterable[Resource], vpc_prop: str = "vpcId") -> set[str]:
    out: set[str] = set()
    for res in resources:
        deps = res.property_dependencies.get(vpc_prop, ())
        if deps:
            out.update(deps)
        elif isinstance(res.get(vpc_prop), str):
            out.add(str(res.get(vpc_prop)))
    return out


@stack_policy(
    "mlops-inv-rds-single-vpc",
    description="An RDS instance's subnet group and security groups sit in one VPC; otherwise CreateDBInstance "
                "fails (InvalidParameterCombination: the security group and DB subnet group are in different VPCs).",
    severity="high", pack=PACK, strictness="always",
    controls=("SOC2 CC8.1",),
    remediation="Build the subnet group and the security group from the same Network (PrivatePlacement).",
)
def rds_single_vpc(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = index(stack)
    for db in idx.of_type("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"):
        groups = _from(idx, db, ("dbSubnetGroupName",), "aws:rds/subnetGroup:SubnetGroup")
        subnets = [s for g in groups for s in _from(idx, g, ("subnetIds",), "aws:ec2/subnet:Subnet")]
        sgs = _from(idx, db, ("vpcSecurityGroupIds",), "aws:ec2/securityGroup:SecurityGroup")
        subnet_vpcs, sg_vpcs = _vpcs(idx, subnets), _vpcs(idx, sgs)
        if subnet_vpcs and sg_vpcs and not subnet_vpcs & sg_vpcs:
            yield db, (f"subnet group {names(groups)} is in VPC {', '.join(sorted(subnet_vpcs))} but security group "
                       f"{names(sgs)} is in VPC {', '.join(sorted(sg_vpcs))}")
