"""ThreatDetection: GuardDuty with EKS audit-log monitoring, Runtime Monitoring (the GuardDuty-managed EKS agent) and S3
protection as detector features; findings routed by EventBridge to the platform's alert topic; IAM Access Analyzer.

GuardDuty allows one detector per account and Region (GuardDuty API reference, CreateDetector: "You can have only
one detector per account per Region"), and IAM Access Analyzer one account-level analyzer per type, account and
Region (IAM user guide, "IAM Access Analyzer quotas": 1, not adjustable). So each is adoptable: with
`guarddutyDetector: existing` (`accountAnalyzer: existing`) the stack creates neither the detector nor its features
(the owner manages them) but routes its findings to its own alert topic; `mlops-infra preflight` reads the account
and says which applies, and `platform.stack_set` refuses two stacks of one account and Region that both create one.

The detector's findings are the whole account's and Region's. The stack that creates it routes all of them (it owns
the detector); a stack that adopts it routes only the findings about its own resources, so another stack's findings
(prod's, in staging's topic) neither reach its subscribers nor page twice. Its own resources are named in the finding's
`detail.resource` (GuardDuty API reference, Resource): its EKS cluster (`eksClusterDetails.name`: EKS audit-log and
runtime findings), its nodes (an instance in its VPC, `instanceDetails.networkInterfaces[].vpcId`, carrying the tag
key that names its cluster, `kubernetes.io/cluster/<cluster>`, in `instanceDetails.tags[]`: `node_tag_key`; the VPC
alone would take in another stack's nodes on a shared `network.existingVpc`), and, with
`name_prefix`, the resources its names start with: buckets (`s3BucketDetails[].name`: S3 protection findings),
IAM roles whose credentials were used (`accessKeyDetails.userName`: e.g. a node's credentials used from outside
AWS) and databases (`rdsDbInstanceDetails.dbInstanceIdentifier`: RDS login findings). Every bucket, role and
database the platform creates is autonamed from a child name of the platform component, so its name starts with
`<platform name>-`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks.naming import child, child_options
from .config import SecurityBaselineConfig

# Feature names from the GuardDuty API (DetectorFeatureConfiguration): RUNTIME_MONITORING includes EKS and must not
# be combined with the older EKS_RUNTIME_MONITORING.
EKS_AUDIT_LOGS = "EKS_AUDIT_LOGS"
RUNTIME_MONITORING = "RUNTIME_MONITORING"
S3_DATA_EVENTS = "S3_DATA_EVENTS"
# CreateDetector enables every optional feature it is not told about, except RUNTIME_MONITORING (GuardDuty API
# reference, CreateDetector: "any feature that is not specified in the API call gets enabled by default"), and the
# Detector resource names none: so each billed feature is registered with the status its flag says.
RDS_LOGIN_EVENTS = "RDS_LOGIN_EVENTS"
EBS_MALWARE_PROTECTION = "EBS_MALWARE_PROTECTION"
LAMBDA_NETWORK_LOGS = "LAMBDA_NETWORK_LOGS"
EKS_ADDON_MANAGEMENT = "EKS_ADDON_MANAGEMENT"


def node_tag_key(cluster_name: str) -> str:
    """The tag key that names a node's cluster on its instance, with the value `owned`, on both kinds of node:
    EKS managed node groups' (EKS puts it on the group's Auto Scaling group with PropagateAtLaunch, beside
    `eks:cluster-name`; the group's own `tags` are not copied: pulumi-eks issue 635) and Karpenter's
    (`utils.GetTags` at v1.9.0 writes it at launch beside `eks:eks-cluster-name`; compute/karpenter.py's launch
    statements require it). The key itself names the cluster, so matching the key alone cannot pair one tag's key
    with another tag's value: EventBridge matches each field of an array of objects against any element, so a pattern
    `{key: [eks:cluster-name], value: [<cluster>]}` also matched another cluster's node that had any tag valued with
    this cluster's name."""
    return f"kubernetes.io/cluster/{cluster_name}"


@dataclass(frozen=True)
class ThreatDetectionArgs:
    config: SecurityBaselineConfig
    tags: dict[str, str]
    alert_topic_arn: pulumi.Input[str] | None = None
    """SNS topic that receives findings. Default: none (findings stay in the GuardDuty console). The topic's policy
    (and its KMS key, if encrypted) must allow `events.amazonaws.com` to publish."""
    cluster_name: pulumi.Input[str] | None = None
    """This stack's EKS cluster: with `guarddutyDetector: existing` and a topic, findings about it are routed.
    Required then; otherwise unused. Default: none."""
    vpc_id: pulumi.Input[str] | None = None
    """This stack's VPC: with `guarddutyDetector: existing`, findings about its nodes (instances in it carrying the
    cluster's tag key, `node_tag_key`) are routed too. Default: none (only the cluster's findings)."""
    name_prefix: str | None = None
    """What the names of this stack's buckets, IAM roles and RDS instances start with (the platform's name and a
    dash): with `guarddutyDetector: existing`, findings about them are routed too. Default: none (only the cluster's
    and the VPC's findings)."""


def finding_pattern(min_severity: float, cluster_name: str | None = None, vpc_id: str | None = None,
                    name_prefix: str | None = None) -> str:
    """EventBridge pattern for GuardDuty findings at or above `min_severity`: every finding of the detector, or with
    `cluster_name` (an adopted detector) only those about that EKS cluster, (with `vpc_id`) its nodes in that VPC,
    and (with `name_prefix`) a bucket, IAM role or RDS instance whose name starts with it."""
    detail: dict[str, object] = {"severity": [{"numeric": [">=", min_severity]}]}
    if cluster_name is not None:
        ours: list[dict[str, object]] = [{"resource": {"eksClusterDetails": {"name": [cluster_name]}}}]
        if vpc_id is not None:
            # The key alone (see node_tag_key): a key and a value would be matched against any two tags.
            ours.append({"resource": {"instanceDetails": {
                "networkInterfaces": {"vpcId": [vpc_id]}, "tags": {"key": [node_tag_key(cluster_name)]}}}})
        if name_prefix:
            prefix = [{"prefix": name_prefix}]
            ours += [{"resource": {"s3BucketDetails": {"name": prefix}}},
                     {"resource": {"accessKeyDetails": {"userName": prefix}}},
                     {"resource": {"rdsDbInstanceDetails": {"dbInstanceIdentifier": prefix}}}]
        detail |= {"$or": ours} if len(ours) > 1 else ours[0]
    return json.dumps({"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"], "detail": detail},
                      sort_keys=True)

class ThreatDetection(pulumi.ComponentResource):
    """Threat detection: the GuardDuty detector (created or existing) and its findings routed to the alert topic."""
    detector_id: pulumi.Output[str] | None
    analyzer_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: ThreatDetectionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:ThreatDetection", name, None, opts)
        cfg = args.config
        self.detector_id = None
        self.analyzer_arn = None
        if cfg.guardduty and cfg.guardduty_detector == "existing":
            if args.alert_topic_arn is not None and args.cluster_name is None:
                raise ValueError(f"{name}: an adopted GuardDuty detector (guarddutyDetector: existing) needs "
                                 "ThreatDetectionArgs.cluster_name, so that only this stack's findings reach its topic")
            self.detector_id = pulumi.Output.from_input(str(cfg.guardduty_detector_id))
            self._findings_rule(name, args, depends_on=[], scoped=True)
        elif cfg.guardduty:
            detector = aws.guardduty.Detector(
                child(name, "detector"), enable=True, finding_publishing_frequency="FIFTEEN_MINUTES",
                tags=args.tags, opts=child_options(self))
            self.detector_id = detector.id
            # Disabled features are registered as DISABLED, not omitted: deleting a DetectorFeature leaves the
            # feature as it was, so only an explicit status turns it off.
            features = {
                EKS_AUDIT_LOGS: (cfg.guardduty_eks_audit_logs, None),
                RUNTIME_MONITORING: (cfg.guardduty_runtime_monitoring, EKS_ADDON_MANAGEMENT),
                S3_DATA_EVENTS: (cfg.guardduty_s3_protection, None),
                RDS_LOGIN_EVENTS: (cfg.guardduty_rds_protection, None),
                EBS_MALWARE_PROTECTION: (cfg.guardduty_malware_protection, None),
                LAMBDA_NETWORK_LOGS: (cfg.guardduty_lambda_protection, None),
            }
            for feature, (on, managed_agent) in features.items():
                status = "ENABLED" if on else "DISABLED"
                extra: list[aws.guardduty.DetectorFeatureAdditionalConfigurationArgsDict] = (
                    [{"name": managed_agent, "status": status}] if managed_agent else [])
                aws.guardduty.DetectorFeature(
                    child(name, feature.lower().replace("_", "-")), detector_id=detector.id, name=feature,
                    status=status, additional_configurations=extra or None, opts=child_options(self))
            self._findings_rule(name, args, depends_on=[detector], scoped=False)
        if cfg.access_analyzer and cfg.account_analyzer == "existing":
            self.analyzer_arn = pulumi.Output.from_input(str(cfg.account_analyzer_arn))
        elif cfg.access_analyzer:
            analyzer = aws.accessanalyzer.Analyzer(
                child(name, "access-analyzer"), analyzer_name=child(name, "access-analyzer"), type="ACCOUNT",
                tags=args.tags, opts=child_options(self))
            self.analyzer_arn = analyzer.arn
        self.register_outputs({"detectorId": self.detector_id, "analyzerArn": self.analyzer_arn})

    def _findings_rule(self, name: str, args: ThreatDetectionArgs, depends_on: list[pulumi.Resource],
                       scoped: bool) -> None:
        """Findings at the configured severity to the topic: all of our detector's, or (`scoped`, an adopted
        detector) those about this stack's cluster, VPC and named resources."""
        if args.alert_topic_arn is None:
            return
        severity = args.config.guardduty_alert_min_severity
        pattern: pulumi.Input[str] = finding_pattern(severity) if not scoped else pulumi.Output.all(
            args.cluster_name, args.vpc_id).apply(
            lambda a: finding_pattern(severity, a[0], a[1], args.name_prefix))
        rule = aws.cloudwatch.EventRule(
            child(name, "findings"), description="GuardDuty findings to the platform alert topic",
            event_pattern=pattern, tags=args.tags,
            opts=child_options(self, depends_on=depends_on))
        aws.cloudwatch.EventTarget(
            child(name, "findings-to-alerts"), rule=rule.name, arn=args.alert_topic_arn, opts=child_options(self))
