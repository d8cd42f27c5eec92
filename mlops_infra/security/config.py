"""Security baseline config: audit trail, threat detection, secrets delivery and exfiltration guards.

Every part that costs money per event, per vCPU or per object is its own flag, so an environment turns it off
explicitly (and visibly) in config rather than by an environment-name branch in a component.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal, get_args

from pydantic import Field, StringConstraints

from ..config.base import ConfigModel, Problem
from ..config.environments import Environment
from ..config.types import (
    BucketNamePrefix,
    ChartVersion,
    IamRoleArn,
    Ipv4Cidr,
    K8sName,
    LogRetentionDays,
    S3BucketName,
    SecretConfigKey,
)

# GuardDuty detector ids (GetDetector: DetectorId, 1-300 characters; AWS issues 32 lowercase hex digits).
DetectorId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,300}$")]
# An account analyzer (IAM Access Analyzer CreateAnalyzer: name [A-Za-z][A-Za-z0-9_.-]*).
AnalyzerArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws[a-z-]*:access-analyzer:[a-z0-9-]+:\d{12}:analyzer/[A-Za-z][A-Za-z0-9_.-]{0,254}$")]
# Who owns an account-level singleton (one GuardDuty detector, one account analyzer per account and Region).
SingletonSource = Literal["create", "existing"]

# Which copy of the account's management events a trail records (CloudTrail bills each copy after the first).
ManagementCopy = Literal["first", "additional"]

# A key of a Kubernetes Secret's `data` (the API's own pattern).
SecretDataKey = Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)]

# external-secrets chart 2.11.0 (app v2.11.0) is the newest release seen (linode/apl-core#3681, 2026-09-22; 2.10.0 in
# entigolabs/entigo-infralib#1653). Its CRDs serve `external-secrets.io/v1` only: v1beta1 stopped being served in
# 0.17.0 (release notes, "BREAKING CHANGE"); 2.0.0 only removed the Alibaba and Device42 providers.
EXTERNAL_SECRETS_CHART_VERSION = "2.11.0"


class IntegrationSecret(ConfigModel):
    """A third-party credential delivered from Secrets Manager into team namespaces by External Secrets."""

    name: K8sName = Field(..., description="Secret name in Secrets Manager and Kubernetes. Required.")
    config_key: SecretConfigKey = Field(..., description="Config key (secret) holding the value. Required.")
    namespaces: list[K8sName] = Field(..., min_length=1, description="Namespaces it is synced into. Required.")
    secret_key: SecretDataKey = Field(
        "value", description="Key of the value in the synced Kubernetes Secret. Default: value.")


class ConsumerServicePort(ConfigModel):
    """A port of a service a consumer stack runs on this platform's cluster (a component used alone), which the
    teams' guarded namespaces may call."""

    namespace: K8sName = Field(..., description="The service's namespace. Required.")
    port: int = Field(..., ge=1, le=65535, description="The port its pods listen on (a Service's targetPort: "
                      "NetworkPolicies judge traffic after the Service's translation). Required.")


class SecurityBaselineConfig(ConfigModel):
    """The security baseline (`securityBaseline`): audit trail, threat detection, secrets delivery and exfiltration
    guards."""
    enabled: bool = Field(True, description="Deploy the security baseline. Default: true (profile: dev false).")
    cloudtrail: bool = Field(True, description="Multi-region CloudTrail with S3 data events. Default: true.")
    trail_data_events: bool = Field(
        True, description="S3 data events (object reads and writes) on every bucket the platform's pods reach (the "
        "data buckets, and the shared and Airflow buckets, which are not endpoint-guarded); billed per event, and "
        "per GB for their copy in the trail's CloudWatch log group (docs/cost.md). "
        "Default: true.")
    trail_management_copy: ManagementCopy | None = Field(
        None, description="Which copy of the account's management events the audit trail records, in each Region "
        "(it is multi-region): `first` (no other trail of the account records them: free) or `additional` (another "
        "trail does, e.g. the stack that owns the GuardDuty detector, or an organization trail such as Control "
        "Tower's: $2.00 per 100,000 events, AWS CloudTrail pricing). The trail carries it as the tag "
        "`mlops:management-events-copy`, which `mlops-infra cost` prices. Set `additional` for a detector-owning "
        "stack in an account whose management events another trail already records. Default: additional with "
        "guarddutyDetector existing (the detector's owner shares the account and its trail holds the first copy), "
        "else first.")
    trail_log_retention_days: LogRetentionDays = Field(
        365, description="Retention of the trail's CloudWatch log group. Default: 365.")
    trail_archive_after_days: int = Field(
        90, ge=1, le=3650, description="Move trail log files to Glacier Instant Retrieval after N days. Default: 90.")
    guardduty: bool = Field(True, description="GuardDuty with EKS, runtime and S3 protection. Default: true.")
    guardduty_detector: SingletonSource = Field(
        "create", description="create: this stack creates the account's GuardDuty detector in its Region (one per "
        "account and Region) and manages its features; existing: it uses the detector another stack or the "
        "organization created (`guarddutyDetectorId`), and only routes findings. `mlops-infra preflight` says which "
        "applies. Default: create.")
    guardduty_detector_id: DetectorId | None = Field(
        None, description="The existing detector's id (`aws guardduty list-detectors`). Required with "
        "guarddutyDetector existing.")
    guardduty_eks_audit_logs: bool = Field(
        True, description="GuardDuty EKS audit-log monitoring; billed per event. Default: true.")
    guardduty_runtime_monitoring: bool = Field(
        True, description="GuardDuty Runtime Monitoring with the managed EKS agent; billed per vCPU. Default: true.")
    guardduty_s3_protection: bool = Field(
        True, description="GuardDuty S3 protection (S3 data events); billed per event. Default: true.")
    guardduty_rds_protection: bool = Field(
        True, description="GuardDuty RDS Protection (login activity of the platform's Aurora/RDS databases); billed "
        "per vCPU of supported databases. Default: true.")
    guardduty_malware_protection: bool = Field(
        False, description="GuardDuty Malware Protection for EC2 (scans a node's EBS volumes after a finding); billed "
        "per GB scanned. Default: false.")
    guardduty_lambda_protection: bool = Field(
        False, description="GuardDuty Lambda Protection (network activity of Lambda functions; the platform runs "
        "none); billed per event. Default: false.")
    guardduty_alert_min_severity: float = Field(
        4.0, ge=1, le=10, description="Route findings of at least this severity to the alert topic "
        "(4 = medium). Default: 4.")
    access_analyzer: bool = Field(True, description="IAM Access Analyzer for the account. Default: true.")
    account_analyzer: SingletonSource = Field(
        "create", description="create: this stack creates the account analyzer (one per account and Region); "
        "existing: another stack or the organization has one (`accountAnalyzerArn`). Default: create.")
    account_analyzer_arn: AnalyzerArn | None = Field(
        None, description="The existing account analyzer (`aws accessanalyzer list-analyzers --type ACCOUNT`). "
        "Required with accountAnalyzer existing.")
    object_lock_days: int | None = Field(
        None, description="Object Lock (governance) retention for the trail bucket, 1-3650 days. Default: none.")
    external_secrets: bool = Field(
        True, description="External Secrets operator, with one SecretStore per namespace granted an integration secret. Default: true.")
    external_secrets_namespace: K8sName = Field(
        "external-secrets", description="Namespace of the External Secrets operator. Default: external-secrets.")
    external_secrets_version: ChartVersion = Field(
        EXTERNAL_SECRETS_CHART_VERSION,
        description=f"external-secrets chart. Default: {EXTERNAL_SECRETS_CHART_VERSION}.")
    secret_recovery_window_days: int = Field(
        30, ge=0, le=30, description="Secrets Manager recovery window of the integration secrets and the team "
        "workspaces' secrets: 0 (deleted at once, so a stack destroyed and brought up again can reuse their fixed "
        "names) or 7-30. Default: 30 (profiles: dev and staging 0).")
    integration_secrets: list[IntegrationSecret] = Field(default_factory=list, description="Synced secrets.")
    exfiltration_guards: bool = Field(False, description="VPC-endpoint-only data buckets, egress NetworkPolicies. Default: false.")
    break_glass_role_arns: list[IamRoleArn] = Field(
        default_factory=list, description="People's roles exempt from the VPC-endpoint bucket condition (incident "
        "response). Default: none.")
    settings_readers: list[IamRoleArn] = Field(
        default_factory=list, description="Roles that read the guarded data buckets' settings (policy, ACL, public "
        "access block, encryption, tags, versioning, lifecycle, replication, acceleration and the other reads "
        "AWS Config's recorder policy grants on a bucket) from AWS's own network, besides the service-linked roles "
        "of IAM Access Analyzer, GuardDuty and AWS Config (`AWSServiceRoleForConfig`), which are always admitted: "
        "e.g. a Control Tower Config recorder (`arn:aws:iam::<account>:role/aws-controltower-ConfigRecorderRole`). "
        "Exempt from the VPC-endpoint condition for bucket-setting reads only; objects, listings (`s3:ListBucket`), "
        "`s3:ListTagsForResource` and writes stay denied (docs/security.md). Default: none.")
    deployer_role_arns: list[IamRoleArn] | None = Field(
        None, description="Roles that run `pulumi up`, `refresh` and `destroy`: exempt from the VPC-endpoint bucket "
        "condition, and allowed to administer the platform buckets through the S3 gateway endpoint (the provider "
        "reads and writes bucket settings: HeadBucket, GetBucketVersioning, PutBucketPolicy...). A role that may change "
        "a bucket's policy can lift the guard anyway, so the exemption opens no path it lacks. Default: "
        "cluster.adminRoleArns, where the role that runs `pulumi up` is already listed.")
    deployer_state_bucket: S3BucketName | None = Field(
        None, description="The Pulumi state bucket (`pulumi login s3://<bucket>`): the S3 gateway endpoint lets the "
        "deployer roles read and write its objects, so `pulumi up` from a runner inside the VPC keeps its state. "
        "Default: none (state elsewhere, e.g. Pulumi Cloud, or the runner outside the VPC).")
    consumer_bucket_prefixes: list[BucketNamePrefix] = Field(
        default_factory=list, description="Name prefixes of the buckets that consumer stacks on this platform's VPC "
        "create (components used alone, e.g. `search-prod` for a LakeFs named `search-prod-lakefs`, whose buckets are "
        "autonamed `search-prod-lakefs-blockstore-<random>`): the S3 gateway endpoint admits this account's "
        "principals to objects of this account's buckets named `<prefix>-*`, and the deployer roles may create and "
        "administer them. Without it a guarded platform's endpoint denies every consumer bucket. The audit trail does "
        "not record their data events (the consumer stack's own trail does). A prefix whose `<prefix>-*` reaches "
        "the platform's own names (`<name>-<environment>-*`, any environment) is refused. Default: none.")
    consumer_service_ports: list[ConsumerServicePort] = Field(
        default_factory=list, description="Ports of services that consumer stacks run on this cluster (e.g. a LakeFs "
        "used alone: `{namespace: search-lakefs, port: 8000}`): the teams' default-deny egress admits them, as it "
        "admits the ports of the components the platform composed. Default: none.")
    s3_egress_cidrs: list[Ipv4Cidr] = Field(
        default_factory=list, description="Extra CIDRs opened for HTTPS egress from ML namespaces, on top of the "
        "region's S3 prefix list (read at deploy time), e.g. an S3 interface endpoint elsewhere. Default: none.")

    def problems(self) -> Iterable[Problem]:
        yield from self._singleton_problems()
        if 0 < self.secret_recovery_window_days < 7:
            yield "secretRecoveryWindowDays", "must be 0 or 7-30 (Secrets Manager's RecoveryWindowInDays)"
        if self.object_lock_days is not None and not 1 <= self.object_lock_days <= 3650:
            yield "objectLockDays", f"must be between 1 and 3650 (got {self.object_lock_days})"
        if self.trail_management_copy is not None and not self.cloudtrail:
            yield "trailManagementCopy", "set, but cloudtrail is false (it says which copy the trail records)"
        if self.object_lock_days is not None and not self.cloudtrail:
            yield "objectLockDays", "set, but cloudtrail is false (Object Lock applies to the trail bucket)"
        seen: set[str] = set()
        for i, sec in enumerate(self.integration_secrets):
            if sec.name in seen:
                yield f"integrationSecrets[{i}].name", f"duplicate secret name {sec.name!r}"
            seen.add(sec.name)
        if self.integration_secrets and self.enabled and not self.external_secrets:
            yield "integrationSecrets", "set, but externalSecrets is false (nothing would sync them)"
        if not self.exfiltration_guards:
            if self.break_glass_role_arns:
                yield "breakGlassRoleArns", "set, but exfiltrationGuards is false"
            if self.settings_readers:
                yield "settingsReaders", "set, but exfiltrationGuards is false"
            if self.deployer_role_arns:
                yield "deployerRoleArns", "set, but exfiltrationGuards is false"
            if self.deployer_state_bucket:
                yield "deployerStateBucket", "set, but exfiltrationGuards is false"
            if self.s3_egress_cidrs:
                yield "s3EgressCidrs", "set, but exfiltrationGuards is false"
            if self.consumer_service_ports:
                yield "consumerServicePorts", "set, but exfiltrationGuards is false (team egress is not guarded)"
            if self.consumer_bucket_prefixes:
                yield "consumerBucketPrefixes", "set, but exfiltrationGuards is false (the endpoint admits any bucket)"

    def consumer_prefix_problems(self, platform_name: str) -> Iterable[Problem]:
        """`consumerBucketPrefixes` that would admit buckets of the platform `platform_name` (`<name>-<environment>-*`,
        this environment's and its siblings', which may share the account): the endpoint's consumer statement and the
        deployers' CreateBucket name `<prefix>-*`, so a consumer prefix must not reach a platform bucket name."""
        owned = [f"{platform_name}-{env}" for env in get_args(Environment)]
        for i, prefix in enumerate(self.consumer_bucket_prefixes):
            hit = next((own for own in owned if prefixes_overlap(prefix, own)), None)
            if hit is not None:
                yield (f"consumerBucketPrefixes[{i}]",
                       f"{prefix!r} matches bucket names of the platform itself ({hit}-*): `{prefix}-*` would admit "
                       "them as a consumer's; name the consumer stack's own prefix (e.g. `search-prod`)")

    def _singleton_problems(self) -> Iterable[Problem]:
        pairs = (("guarddutyDetector", self.guardduty_detector, "guarddutyDetectorId", self.guardduty_detector_id),
                 ("accountAnalyzer", self.account_analyzer, "accountAnalyzerArn", self.account_analyzer_arn))
        for key, source, ref_key, ref in pairs:
            if source == "existing" and ref is None:
                yield ref_key, f"required when {key} is existing"
            if source == "create" and ref is not None:
                yield ref_key, f"set, but {key} is create"

    @property
    def effective_trail_management_copy(self) -> ManagementCopy:
        """`trailManagementCopy`, else its documented default: `additional` when the stack adopts the account's
        GuardDuty detector (`guarddutyDetector: existing`), `first` otherwise."""
        if self.trail_management_copy is not None:
            return self.trail_management_copy
        return "additional" if self.guardduty_detector == "existing" else "first"

    def creates(self) -> dict[str, bool]:
        """Which account-level singletons this stack creates: `guarddutyDetector`, `accountAnalyzer`."""
        return {"guarddutyDetector": self.enabled and self.guardduty and self.guardduty_detector == "create",
                "accountAnalyzer": self.enabled and self.access_analyzer and self.account_analyzer == "create"}


def prefixes_overlap(a: str, b: str) -> bool:
    """Whether some bucket name matches both `<a>-*` and `<b>-*` (one prefix, hyphen included, starts the other)."""
    return f"{a}-".startswith(f"{b}-") or f"{b}-".startswith(f"{a}-")
